"""One forked Python worker process: the loop it runs, and the thread that watches it.

A worker is forked from this process, so every callable that exists here at fork time
exists there too. It is the leader of its own process group (so the group can be killed)
and writes fd 1 and fd 2 to pipes that its watching thread copies to the captures of the
attempt it is running. Requests and results travel as pickles over a socket pair.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import selectors
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, Pipe
from typing import Any, NoReturn, Protocol, TextIO

from runner.engine import outcome
from runner.executors.local.capture import StreamCapture
from runner.executors.local.process_group import GroupStop
from runner.executors.local.pycall import CallOutcome, call_task, environment
from runner.model import Task, TaskState
from runner.processes import process_start

logger = logging.getLogger(__name__)

_READ_BYTES = 65536


@dataclass(frozen=True)
class WorkerRequest:
    """One call for a worker: the callable as a pickle, or its index in the pool's registry."""

    key: int
    task: str
    call: bytes | int
    upstream_results: dict[str, Any]
    env: dict[str, str]
    cwd: str | None


@dataclass(frozen=True)
class Unresolved:
    """The worker could not load the callable from its pickle (e.g. its module won't import)."""

    error: str


WorkerResponse = CallOutcome | Unresolved


class Occupant(Protocol):
    """What the watching thread needs of the attempt a worker is running."""

    out: StreamCapture
    err: StreamCapture
    stop: GroupStop | None


class WorkerListener(Protocol):
    """Told, on the worker's watching thread, when a call returns and when the worker is gone."""

    def returned(self, worker: WorkerProcess, response: WorkerResponse) -> None:
        """The worker answered the request it was sent."""

    def exited(self, worker: WorkerProcess, returncode: int) -> None:
        """The worker process ended (negative: by that signal) and its output was read."""


class WorkerProcess:
    """The parent's side of one worker: its pid, its pipes and the thread that watches it."""

    def __init__(
        self,
        *,
        pid: int,
        conn: Connection,
        out_fd: int,
        err_fd: int,
        generation: int,
        listener: WorkerListener,
    ) -> None:
        self.pid = pid
        self.start = process_start(pid)
        """When the worker started (read before it can be reaped), to recognise it later."""
        self.generation = generation
        """How many registry entries the worker was forked with."""
        self.occupant: Occupant | None = None
        self._conn = conn
        self._out_fd = out_fd
        self._err_fd = err_fd
        self._pidfd = os.pidfd_open(pid)
        self._wake_fd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        self._listener = listener
        self._closed = False
        self._thread = threading.Thread(
            target=self._run, name=f"runwatch-worker-{pid}", daemon=True
        )
        self._thread.start()

    def fds(self) -> list[int]:
        """The descriptors this process holds for the worker (a worker forked later closes them)."""
        return [self._conn.fileno(), self._out_fd, self._err_fd, self._pidfd, self._wake_fd]

    def send(self, request: bytes) -> None:
        """Hand the worker its next call, a pickled ``WorkerRequest``; OSError if it is gone."""
        self._conn.send_bytes(request)

    def quit(self) -> None:
        """Ask an idle worker to exit."""
        try:
            self._conn.send_bytes(b"")
        except OSError as exc:
            logger.debug("worker %d already gone: %s", self.pid, exc)

    def wake(self) -> None:
        """Make the watching thread look again at the occupant's stop."""
        if not self._closed:
            os.eventfd_write(self._wake_fd, 1)

    def join(self, timeout: float | None = None) -> None:
        """Wait for the watching thread to end."""
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout)

    def close(self) -> None:
        """Release the descriptors; called by the listener once it forgot the worker."""
        self._closed = True
        for fd in (self._out_fd, self._err_fd, self._pidfd, self._wake_fd):
            os.close(fd)
        self._conn.close()

    def _run(self) -> None:
        try:
            self._watch()
            stop = self._stop()
            if stop is not None:
                stop.kill_if_due()  # before the reap, which frees the group id
            _, status = os.waitpid(self.pid, 0)
            returncode = os.waitstatus_to_exitcode(status)
            self._read_available()
        except BaseException:  # the listener must hear of the worker's end, whatever broke here
            logger.exception("watching Python worker %d failed; killing it", self.pid)
            returncode = self._kill_and_reap()
        stop = self._stop()
        if stop is not None:
            stop.wait_for_group()
        self._listener.exited(self, returncode)

    def _stop(self) -> GroupStop | None:
        occupant = self.occupant
        return None if occupant is None else occupant.stop

    def _watch(self) -> None:
        """Copy output and pass on results until the worker process exits."""
        with selectors.PollSelector() as selector:
            selector.register(self._out_fd, selectors.EVENT_READ, "out")
            selector.register(self._err_fd, selectors.EVENT_READ, "err")
            selector.register(self._conn.fileno(), selectors.EVENT_READ, "conn")
            selector.register(self._pidfd, selectors.EVENT_READ, "exit")
            selector.register(self._wake_fd, selectors.EVENT_READ, "wake")
            while True:
                stop = self._stop()
                for key, _ in selector.select(None if stop is None else stop.seconds_left()):
                    if key.data == "exit":
                        return
                    if key.data == "wake":
                        os.eventfd_read(self._wake_fd)
                    elif key.data == "conn":
                        self._receive(selector)
                    else:
                        self._read(key.fd)
                if stop is not None:
                    stop.kill_if_due()

    def _receive(self, selector: selectors.BaseSelector) -> None:
        try:
            data = self._conn.recv_bytes()
        except (EOFError, OSError):
            selector.unregister(self._conn.fileno())  # dying; the pidfd will say so
            return
        response: WorkerResponse = pickle.loads(data)  # noqa: S301 - from our own worker
        self._read_available()  # everything written before the result is in the pipes now
        self._listener.returned(self, response)

    def _read_available(self) -> None:
        for fd in (self._out_fd, self._err_fd):
            while self._read(fd):
                pass

    def _read(self, fd: int) -> bool:
        """Read one chunk into the occupant's capture; False when there was nothing to read."""
        try:
            data = os.read(fd, _READ_BYTES)
        except BlockingIOError:
            return False
        occupant = self.occupant
        if occupant is None:
            if data:
                logger.debug(
                    "Python worker %d wrote %d bytes between attempts", self.pid, len(data)
                )
        elif fd == self._out_fd:
            occupant.out.write(data)
        else:
            occupant.err.write(data)
        return bool(data)

    def _kill_and_reap(self) -> int:
        try:
            os.killpg(self.pid, signal.SIGKILL)
            _, status = os.waitpid(self.pid, 0)
        except ChildProcessError:
            return -signal.SIGKILL
        return os.waitstatus_to_exitcode(status)


def fork_worker(
    registry: Sequence[Task],
    inherited_fds: Sequence[int],
    listener: WorkerListener,
    withheld: Iterable[str] = (),
) -> WorkerProcess:
    """Fork a worker that knows the callables in ``registry``; raises OSError if it cannot.

    The worker's environment lacks the ``withheld`` variables (runwatch's secrets); each
    request's ``env`` adds back, for that call only, what its task keeps.
    """
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    parent_conn, child_conn = Pipe()
    _flush_std_streams()
    try:
        with warnings.catch_warnings():
            # Forking a threaded process is deliberate: the child only runs the worker loop,
            # which needs no lock held by another thread (Python re-creates its own at fork).
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
    except OSError:
        for fd in (out_r, out_w, err_r, err_w):
            os.close(fd)
        parent_conn.close()
        child_conn.close()
        raise
    if pid == 0:
        close = [*inherited_fds, out_r, err_r, parent_conn.fileno()]
        _worker_main(child_conn, (out_w, err_w), close, registry, frozenset(withheld))
    child_conn.close()
    os.close(out_w)
    os.close(err_w)
    try:
        os.setpgid(pid, pid)  # the child does it too; whoever is first wins the race
    except OSError as exc:
        logger.debug("setpgid(%d) in the parent: %s", pid, exc)
    os.set_blocking(out_r, False)
    os.set_blocking(err_r, False)
    return WorkerProcess(
        pid=pid,
        conn=parent_conn,
        out_fd=out_r,
        err_fd=err_r,
        generation=len(registry),
        listener=listener,
    )


def _flush_std_streams() -> None:
    """Buffered output would otherwise be written again by the child."""
    for stream in (sys.stdout, sys.stderr):
        try:
            if stream is not None:
                stream.flush()
        except (OSError, ValueError) as exc:
            logger.debug("cannot flush %r before fork: %s", stream, exc)


_inherited_streams: list[object] = []
"""In a worker: the parent's sys streams, kept so their finalizers never close fd 1 or 2."""


def _worker_main(
    conn: Connection,
    pipes: tuple[int, int],
    close: list[int],
    registry: Sequence[Task],
    withheld: frozenset[str],
) -> NoReturn:
    code = 0
    out_w, err_w = pipes
    try:
        os.setpgid(0, 0)
        for name in withheld:
            os.environ.pop(name, None)
        for fd in close:
            with contextlib.suppress(OSError):  # already closed is as good as closed
                os.close(fd)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.close(devnull)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        os.close(out_w)
        os.close(err_w)
        _inherited_streams.extend([sys.stdin, sys.stdout, sys.stderr])
        # Fresh streams on the new fds, buffered like the interpreter's own on a pipe.
        sys.stdin = open(0, closefd=False)  # noqa: SIM115 - lives as long as the process
        sys.stdout = _text_stream(1, line_buffering=False)
        sys.stderr = _text_stream(2, line_buffering=True)
        _serve(conn, registry)
    except BaseException:  # whatever happens, never return into the parent's code
        code = 70
        try:
            os.write(2, traceback.format_exc().encode())
        finally:
            os._exit(code)
    os._exit(code)


def _text_stream(fd: int, *, line_buffering: bool) -> TextIO:
    stream = open(fd, "w", encoding="utf-8", errors="backslashreplace", closefd=False)  # noqa: SIM115
    stream.reconfigure(line_buffering=line_buffering)
    return stream


def _serve(conn: Connection, registry: Sequence[Task]) -> None:
    streams = (sys.stdout, sys.stderr)
    while True:
        try:
            data = conn.recv_bytes()
        except EOFError:
            return
        if not data:
            return
        response = _handle(pickle.loads(data), registry)  # noqa: S301 - from our parent
        _flush_std_streams()  # whatever the task left in place, then ours, for the next one
        sys.stdout, sys.stderr = streams
        _flush_std_streams()
        conn.send_bytes(pickle.dumps(response, pickle.HIGHEST_PROTOCOL))


def _handle(request: WorkerRequest, registry: Sequence[Task]) -> WorkerResponse:
    func: Callable[..., Any]
    try:
        if isinstance(request.call, int):
            task = registry[request.call]
            assert task.python is not None
            func, args, kwargs = task.python, task.args, task.kwargs
        else:
            func, args, kwargs = pickle.loads(request.call)  # noqa: S301 - from our parent
    except Exception as exc:  # an unimportable module raises anything at all
        return Unresolved(f"{type(exc).__name__}: {exc}")
    previous_cwd = os.getcwd()
    if request.cwd is not None:
        try:
            os.chdir(request.cwd)
        except OSError as exc:
            error = outcome.working_directory_error(request.cwd, exc)
            return CallOutcome(TaskState.FAILED, exit_code=126, error=error, reason=error)
    try:
        with environment(request.env):
            return call_task(
                request.task,
                func,
                args,
                kwargs,
                upstream_results=request.upstream_results,
                env=request.env,
            )
    finally:
        os.chdir(previous_cwd)
