"""The keeper: one long-lived process per local executor, the parent of every command it runs.

``runwatch serve`` (or ``run``) starts it once, in a session of its own, and talks to it
over a socket (runner.executors.local.keeper). For each command it is asked to run, it
spawns the command with ``posix_spawn`` as the leader of a new session, copies its stdout
and stderr into the attempt's log files (size cap, last lines of stderr, passthrough),
waits for it through a pidfd, and tells in the attempt's status file (runner.statusfile)
that it spawns the command, then the command's pid (before the parent hears of it), then
its exit status (*before* reaping it); and reports how it ended. A spawn asked for by a
parent that has died since is refused (see ``Keeper._spawn``).

It outlives its parent: when the socket closes it takes no more commands, keeps copying
output and recording the outcome of those still running, and exits once none is left.
An attempt whose supervisor died therefore keeps its whole output and its real outcome,
for the scheduler that adopts it. A command spawned with a ``fence`` (a Celery worker's:
another host may take its attempt over once its lease runs out) is stopped ``fence``
seconds after the parent hung up, unless the command's status file was touched since
(``runner.exitstatus.renew``: someone on this host still holds its lease).
SIGINT, SIGHUP and SIGTERM are ignored (commands get them back as default). Messages
are ``marshal``-ed: a request is one tuple; the replies (→) of one turn of the loop go
together, as a list of tuples:

    spawn key argv env cwd stdout stderr cap header status passthrough fence (+ fds 0 1 2)
    stop key grace
    → launched key pid start traced | failed key errno message filename
    → ended key returncode tail stopped | warning message | error traceback

It starts before a run's first command can, so it imports only the standard library and
runwatch modules that do too (no ``typing``, ``logging`` or runner.model), started with
``python -S`` (runner.executors.local.keeper_launch): no site path set-up either.
"""

from __future__ import annotations

import array
import contextlib
import marshal
import os
import select
import signal
import socket
import sys
import threading
import time

from runner import processes, statusfile
from runner.executors.local.capture import StreamCapture
from runner.executors.local.keeper_launch import MESSAGE_BYTES
from runner.executors.local.notices import send_to
from runner.executors.local.process_group import GroupStop
from runner.pipes import drain

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the keeper's start)
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_READ_BYTES = 65536
_IGNORED = (signal.SIGINT, signal.SIGHUP, signal.SIGTERM)
_RESET = (signal.SIGPIPE, signal.SIGXFSZ, *_IGNORED)
"""Signals the keeper ignores (Python ignores SIGPIPE and SIGXFSZ): default again in commands."""


class _Kept:
    """One command the keeper runs."""

    def __init__(self, key: int, pid: int, out: StreamCapture, err: StreamCapture) -> None:
        self.key = key
        self.pid = pid
        self.pidfd = os.pidfd_open(pid)
        self.out = out
        self.err = err
        self.pipes: dict[int, StreamCapture] = {}
        self.story: int | None = None  # the status file, open (runner.statusfile)
        self.passed: list[int] = []
        self.stop: GroupStop | None = None
        self.fence: float | None = None


class _Poller:
    """An epoll of descriptors, each with the callback its readiness calls: what the
    keeper used ``selectors`` for, less its bookkeeping (three descriptors a command)."""

    def __init__(self) -> None:
        self._epoll = select.epoll()
        self._callbacks: dict[int, Callable[[int], None]] = {}

    def add(self, fd: int, callback: Callable[[int], None]) -> None:
        self._epoll.register(fd, select.EPOLLIN)
        self._callbacks[fd] = callback

    def remove(self, fd: int) -> None:
        self._epoll.unregister(fd)
        del self._callbacks[fd]

    def wait(self, timeout: float | None) -> None:
        """Wait up to ``timeout`` seconds (None: no limit), then call the ready ones."""
        ready = self._epoll.poll(-1 if timeout is None else timeout)
        calls = [(fd, self._callbacks.get(fd)) for fd, _ in ready]
        for fd, callback in calls:
            # Removed by an earlier call of this batch (and its number perhaps taken again
            # by a new descriptor since): not this one's event.
            if callback is not None and self._callbacks.get(fd) is callback:
                callback(fd)


class Keeper:
    """The keeper's loop: requests from the socket, output, and the commands' ends."""

    def __init__(self, control: socket.socket) -> None:
        self._control: socket.socket | None = control
        self._poller = _Poller()
        self._poller.add(control.fileno(), self._on_request)
        self._kept: dict[int, _Kept] = {}
        self._hung_up_at: float | None = None
        self._send_lock = threading.Lock()
        self._outbox: list[tuple[Any, ...]] = []
        self._hangup = select.poll()
        self._hangup.register(control, select.POLLHUP)
        self._me = f"{os.getpid()} {processes.process_start(os.getpid()) or '0'}"
        self._devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        self._home = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self._buffer = memoryview(bytearray(MESSAGE_BYTES))  # each request is read into it
        self._programs = Programs()

    def run(self) -> None:
        """Serve until the parent has gone and no command is left."""
        while self._control is not None or self._kept:
            stops = [k.stop for k in self._kept.values() if k.stop is not None]
            left = [s for s in (stop.seconds_left() for stop in stops) if s is not None]
            left += [f for f in map(self._fence_left, self._kept.values()) if f is not None]
            timeout = max(min(left), 0.0) if left else None
            self._poller.wait(timeout)
            for stop in stops:
                stop.kill_if_due()
            self._fence()
            self._flush()

    def send(self, message: tuple[Any, ...]) -> None:
        """Tell the parent now, if it is still there (from any thread)."""
        self._deliver([message])

    def _tell(self, message: tuple[Any, ...]) -> None:
        """Tell the parent with the rest of this turn's news (the loop's thread only)."""
        self._outbox.append(message)

    def _flush(self) -> None:
        """Send the turn's news in one message: one wake-up of the parent, not two per
        command."""
        if self._outbox:
            batch, self._outbox = self._outbox, []
            self._deliver(batch)

    def _deliver(self, batch: list[tuple[Any, ...]]) -> None:
        data = marshal.dumps(batch)
        if len(data) > MESSAGE_BYTES and len(batch) > 1:
            half = len(batch) // 2
            self._deliver(batch[:half])
            self._deliver(batch[half:])
            return
        with self._send_lock:
            if self._control is not None:
                with contextlib.suppress(OSError):
                    self._control.send(data)

    def _on_request(self, fd: int) -> None:
        assert self._control is not None
        try:
            size, fds = _receive(self._control, self._buffer)
        except OSError:
            size, fds = 0, []
        if not size:  # the parent is gone: no more requests, finish what runs
            self._poller.remove(fd)
            with self._send_lock:
                self._control.close()
                self._control = None
            self._hung_up_at = time.time()
            return
        request = marshal.loads(self._buffer[:size])  # noqa: S302 - a socketpair: only our parent writes
        if request[0] == "spawn":
            self._spawn(request[1:], fds)
        elif request[0] == "stop":
            self._stop(*request[1:])

    def _spawn(self, request: tuple[Any, ...], passed: list[int]) -> None:
        """Run a command; its status file says, from before the spawn on, who runs it
        (runner.statusfile): this keeper until the command's own line is added. A request
        whose sender has hung up (died, say, before this keeper read it) is refused, and
        the file removed: that sender's attempt has no process and no status file, so the
        recovery that judges it may start it again. The file is written before the check,
        so no recovery can see nothing while a spawn of the attempt is still to come.
        """
        key, argv, env, cwd, out_path, err_path, cap, header, status, passthrough, fence = request
        story = None if status is None else statusfile.begin(status, self._me)
        if self._hangup.poll(0):
            self._abandon(status, story, passed)
            return
        stdin = passed[0] if passthrough and len(passed) == 3 else self._devnull
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        try:
            pid = self._start(argv, env, cwd, (stdin, out_w, err_w))
        except (OSError, ValueError) as exc:
            self._abandon(status, story, [out_r, err_r, *passed])
            errno = exc.errno if isinstance(exc, OSError) else None
            message = (exc.strerror if isinstance(exc, OSError) else None) or str(exc)
            filename = exc.filename if isinstance(exc, OSError) else None
            self._tell(("failed", key, errno, message, filename))
            return
        finally:
            os.close(out_w)
            os.close(err_w)
        start = processes.process_start(pid)  # not reaped yet: still ours
        traced = story is not None and statusfile.ran(story, pid, start)
        out_pass, err_pass = (passed[1], passed[2]) if stdin != self._devnull else (None, None)
        kept = _Kept(
            key,
            pid,
            StreamCapture(out_path, cap_bytes=cap, passthrough_fd=out_pass, header=header),
            StreamCapture(err_path, cap_bytes=cap, passthrough_fd=err_pass, header=header),
        )
        kept.story = story
        kept.passed, kept.fence = passed, fence
        kept.pipes = {out_r: kept.out, err_r: kept.err}
        self._kept[key] = kept
        self._tell(("launched", key, pid, start, traced))
        for fd, capture in kept.pipes.items():
            self._poller.add(fd, self._reader(kept, capture))
        self._poller.add(kept.pidfd, lambda _: self._ended(kept))

    @staticmethod
    def _abandon(status: str | None, story: int | None, fds: list[int]) -> None:
        """A spawn not made: no status file, and the request's descriptors closed."""
        if story is not None:
            os.close(story)
            statusfile.discard(status or "")
        for fd in fds:
            os.close(fd)

    def _start(
        self, argv: list[str], env: dict[str, str], cwd: str | None, fds: tuple[int, int, int]
    ) -> int:
        """Spawn the command, from ``cwd`` (then back home: the loop is this thread alone)."""
        if cwd is None:
            return _spawn(argv, env, fds, self._programs)
        try:
            os.chdir(cwd)
            return _spawn(argv, env, fds, self._programs)
        finally:
            os.fchdir(self._home)

    def _reader(self, kept: _Kept, capture: StreamCapture) -> Callable[[int], None]:
        def read(fd: int) -> None:
            data = os.read(fd, _READ_BYTES)
            if data:
                capture.write(data)
            else:
                self._poller.remove(fd)
                os.close(fd)
                del kept.pipes[fd]

        return read

    def _ended(self, kept: _Kept) -> None:
        """The command exited: record its status, reap it, finish its output, report."""
        result = os.waitid(os.P_PIDFD, kept.pidfd, os.WEXITED | os.WNOWAIT)
        assert result is not None
        killed = result.si_code in (os.CLD_KILLED, os.CLD_DUMPED)
        returncode = -result.si_status if killed else result.si_status
        if kept.stop is not None:
            kept.stop.kill_if_due()  # before the reap: the leader keeps the group id ours
        if kept.story is not None:
            statusfile.ended(kept.story, returncode)
        os.waitid(os.P_PIDFD, kept.pidfd, os.WEXITED)
        self._poller.remove(kept.pidfd)
        os.close(kept.pidfd)
        for fd, capture in list(kept.pipes.items()):
            self._poller.remove(fd)
            drain(fd, capture.write)
            os.close(fd)
        kept.out.close()
        kept.err.close()
        for fd in kept.passed:
            os.close(fd)
        del self._kept[kept.key]
        tail = kept.err.tail() if returncode != 0 else None
        ended = ("ended", kept.key, returncode, tail, kept.stop is not None)
        stop = kept.stop
        if stop is None:
            self._tell(ended)
            return

        def wait_then_send() -> None:  # a stopped command's group may linger: wait it out
            stop.wait_for_group()
            self.send(ended)

        threading.Thread(target=wait_then_send, name=f"keeper-stop-{kept.key}").start()

    def _fence_left(self, kept: _Kept) -> float | None:
        """Seconds until a fenced command is due to be stopped; None while its parent is
        there, without a fence, or once it is being stopped."""
        if kept.fence is None or self._hung_up_at is None or kept.stop is not None:
            return None
        renewed = self._hung_up_at
        if kept.story is not None:
            with contextlib.suppress(OSError):
                renewed = max(renewed, os.fstat(kept.story).st_mtime)
        return renewed + kept.fence - time.time()

    def _fence(self) -> None:
        """Stop the fenced commands whose lease nobody renewed in time: their attempts are
        about to be taken over, and must not run twice."""
        for kept in list(self._kept.values()):
            left = self._fence_left(kept)
            if left is not None and left <= 0:
                kept.stop = GroupStop(kept.pid, grace=0.0)
                kept.stop.begin()

    def _stop(self, key: int, grace: float) -> None:
        kept = self._kept.get(key)
        if kept is None or kept.stop is not None:
            return  # ended already (its own outcome stands), or being stopped
        kept.stop = GroupStop(kept.pid, grace=grace)
        kept.stop.begin()


FOUND_SECONDS = 1.0
"""How long a program found on a ``PATH`` is run from where it was found without looking
again: a burst of commands looks once, and one installed earlier on the ``PATH`` is run
from there within a second (a shell's ``hash`` never looks again)."""


class Programs:
    """Where the programs of commands are, looked up on their ``PATH`` as ``shutil.which``
    does, each kept ``FOUND_SECONDS``."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._found: dict[tuple[str, str], tuple[str, float]] = {}

    def find(self, program: str, path: str) -> str | None:
        """The first executable file named ``program`` in ``path``'s folders, or None."""
        now = self._clock()
        known = self._found.get((program, path))
        if known is not None and now < known[1]:
            return known[0]
        found = _which(program, path)
        if len(self._found) > 256:  # many jobs' PATHs: start over rather than grow
            self._found.clear()
        if found is not None and os.path.isabs(found):  # a relative one depends on the cwd
            self._found[program, path] = (found, now + FOUND_SECONDS)
        return found


def _spawn(
    argv: list[str], env: dict[str, str], fds: tuple[int, int, int], programs: Programs
) -> int:
    """``posix_spawn`` the command, found on the ``PATH`` of ``env``, as the leader of a new
    session, ``fds`` its stdin, stdout and stderr."""
    program = argv[0]
    if os.sep not in program:
        found = programs.find(program, os.pathsep.join(os.get_exec_path(env)))
        if found is None:
            raise FileNotFoundError(2, os.strerror(2), program)
        program = found
    actions = [(os.POSIX_SPAWN_DUP2, fd, target) for target, fd in enumerate(fds)]
    return os.posix_spawn(program, argv, env, file_actions=actions, setsid=True, setsigdef=_RESET)


_FDS = array.array("i")
_FDS_SPACE = socket.CMSG_SPACE(3 * _FDS.itemsize)


def _receive(sock: socket.socket, buffer: memoryview) -> tuple[int, list[int]]:
    """One request into ``buffer``: its size, and the descriptors passed with it (up to
    three), as ``socket.recv_fds`` reads them, without a new 256 KiB buffer per request."""
    size, ancillary, _, _ = sock.recvmsg_into([buffer], _FDS_SPACE)
    fds = array.array("i")
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(data[: len(data) - len(data) % fds.itemsize])
    return size, list(fds)


def _which(program: str, path: str) -> str | None:
    """As ``shutil.which`` does on POSIX (shutil imports the archive modules, ~2 ms of the
    keeper's start): the first executable file named ``program`` in ``path``'s folders."""
    if not path:
        return None
    for folder in dict.fromkeys(path.split(os.pathsep)):
        candidate = os.path.join(folder, program)
        if os.access(candidate, os.F_OK | os.X_OK) and not os.path.isdir(candidate):
            return candidate
    return None


def main(argv: list[str]) -> int:
    """``python -m runner.executors.local.keeper_process FD``: serve the socket at FD."""
    for signum in _IGNORED:
        signal.signal(signum, signal.SIG_IGN)
    control = socket.socket(fileno=int(argv[1]))
    control.set_inheritable(False)  # passed to us, it must not be passed on to commands
    keeper = Keeper(control)
    send_to(lambda message: keeper.send(("warning", message)))  # the parent logs them
    try:
        keeper.run()
    except BaseException:
        import traceback  # only when the keeper fails: not paid at its start

        keeper.send(("error", traceback.format_exc()))
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
