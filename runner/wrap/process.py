"""The wrapped command's process: output passed through byte for byte, and kept.

Each stream goes to this process's own stdout or stderr unchanged (so cron still mails
it) while its last lines are kept for the store and alerts and, up to a cap, a log file
is written. When this process's stdout and stderr are the same file — as under cron,
which hands both to one mail pipe — the command gets a single pipe for both, so their
order is kept exactly. When the reader of our stdout goes away, the command's pipe is
closed too, so it gets SIGPIPE as it would have without runwatch.

This is a lean sibling of runner.executors.local.subprocess_runner (which imports the model and
logging): the same process-group and pidfd handling, with signals forwarded.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence

from runner.pipes import drain
from runner.processes import process_start
from runner.store.logfiles import create_log

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    from typing import IO

    Streams = dict[int, tuple[IO[bytes], "Output"]]

_READ_BYTES = 65536
TAIL_BYTES = 4096
TAIL_LINES = 20


class Output:
    """One output stream of the command: passed through, tail kept, logged up to a cap."""

    def __init__(
        self,
        target_fd: int | None,
        log_path: str | None,
        cap_bytes: int,
        *,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        """``warn`` is told of trouble with the log file (the command runs on regardless)."""
        self.target_fd = target_fd
        self.log_path = log_path
        self._warn = warn
        self.cap = max(cap_bytes, 0)
        self.written = 0
        self.dropped = 0
        self.reader_gone = False
        self._tail = bytearray()
        self._trimmed = False
        self._log_fd: int | None = None
        self._log_opened = False
        self._ends_with_newline = True

    def write(self, data: bytes) -> bool:
        """Take the next chunk of the stream; False once its reader is gone."""
        self._tail += data[-TAIL_BYTES:]
        if len(self._tail) > TAIL_BYTES:
            del self._tail[:-TAIL_BYTES]
            self._trimmed = True
        if self.target_fd is not None:
            try:
                _write_all(self.target_fd, data)
            except BrokenPipeError:
                self.target_fd, self.reader_gone = None, True
            except OSError:
                self.target_fd = None  # a full disk under our stdout: keep the command going
        room = self.cap - self.written
        kept = data if len(data) <= room else data[: max(room, 0)]
        self.written += len(kept)
        self.dropped += len(data) - len(kept)
        if kept:
            self._ends_with_newline = kept.endswith(b"\n")
            self._log(kept)
        return not self.reader_gone

    def tail(self, lines: int = TAIL_LINES) -> str | None:
        """The last ``lines`` lines (utf-8, bad bytes replaced); None when there were none."""
        kept = self._tail.decode("utf-8", errors="replace").splitlines()
        if self._trimmed and len(kept) > 1:
            kept = kept[1:]  # the first line was cut by the byte limit
        while kept and not kept[-1].strip():
            kept.pop()
        return "\n".join(kept[-lines:]) or None

    def close(self) -> None:
        """Note a truncation at the end of the log file, and close it."""
        if self.dropped:
            notice = (
                f"[runwatch] output truncated: {self.dropped} more bytes not written"
                f" (cap {self.cap} bytes)\n"
            )
            self._log(("" if self._ends_with_newline else "\n").encode() + notice.encode())
        if self._log_fd is not None:
            os.close(self._log_fd)
            self._log_fd = None

    def _log(self, data: bytes) -> None:
        if not self._log_opened:
            self._log_opened = True
            self._log_fd = self._open_log()
        if self._log_fd is None:
            return
        try:
            _write_all(self._log_fd, data)
        except OSError:
            os.close(self._log_fd)  # a full log volume must not stop the command
            self._log_fd = None

    def _open_log(self) -> int | None:
        if self.log_path is None:
            return None
        try:
            fd, replaced = create_log(self.log_path)
        except OSError as exc:  # the command still runs, and its tail is still kept
            self._tell(f"cannot open log file {self.log_path}, output not kept: {exc}")
            return None
        if replaced:
            self._tell(replaced)
        return fd

    def _tell(self, message: str) -> None:
        if self._warn is not None:
            self._warn(message)


class Outcome:
    """How the command ended: ``returncode`` as subprocess reports it (-N for signal N)."""

    def __init__(self, returncode: int, *, timed_out: bool = False) -> None:
        self.returncode = returncode
        self.timed_out = timed_out

    @property
    def exit_status(self) -> int:
        """What a shell reports: the exit code, or 128+N when killed by signal N."""
        return 128 - self.returncode if self.returncode < 0 else self.returncode


class SpawnError(Exception):
    """The command could not be started; ``exit_status`` is what a shell would return."""

    def __init__(self, message: str, exit_status: int) -> None:
        super().__init__(message)
        self.exit_status = exit_status


def same_file(fd_a: int, fd_b: int) -> bool:
    """True when two descriptors of this process refer to the same file or pipe."""
    try:
        a, b = os.fstat(fd_a), os.fstat(fd_b)
    except OSError:
        return False
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


class Command:
    """Runs the wrapped command once; ``start`` then ``wait``."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str],
        stdout: Output,
        stderr: Output | None,
        timeout: float | None = None,
        kill_grace: float = 5.0,
    ) -> None:
        """``stderr`` None sends the command's stderr into the stdout pipe."""
        self.argv = list(argv)
        self.env = env
        self.stdout = stdout
        self.stderr = stderr
        self.timeout = timeout
        self.kill_grace = kill_grace
        # Cron starts each job in a session of its own; at a terminal the command stays in
        # ours, so it can read the terminal and Ctrl-C reaches it directly.
        self.own_session = not os.isatty(0)
        self.proc: subprocess.Popen[bytes] | None = None
        self.pid_start: str | None = None
        """When the command's process started (``processes.process_start``), once started."""

    @property
    def pid(self) -> int | None:
        """The command's pid once started."""
        return None if self.proc is None else self.proc.pid

    def start(self) -> int:
        """Start the command; its pid. SpawnError when it cannot be run."""
        try:
            self.proc = subprocess.Popen(
                self.argv,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE if self.stderr is not None else subprocess.STDOUT,
                env=dict(self.env),
                start_new_session=self.own_session,
                bufsize=0,
            )
        except FileNotFoundError:
            raise SpawnError(f"command not found: {self.argv[0]!r}", 127) from None
        except PermissionError:
            raise SpawnError(f"permission denied: {self.argv[0]!r}", 126) from None
        except (OSError, ValueError) as exc:
            raise SpawnError(f"cannot run {self.argv[0]!r}: {exc}", 126) from None
        self.pid_start = process_start(self.proc.pid)  # not reaped before wait(): ours
        return self.proc.pid

    def wait(self) -> Outcome:
        """Copy output until the command exits, stopping it at its timeout; how it ended."""
        proc = self.proc
        assert proc is not None
        assert proc.stdout is not None
        streams: Streams = {proc.stdout.fileno(): (proc.stdout, self.stdout)}
        if self.stderr is not None and proc.stderr is not None:
            streams[proc.stderr.fileno()] = (proc.stderr, self.stderr)
        try:
            timed_out = self._copy_until_exit(proc, streams)
            returncode = proc.wait()
            for fd, (_, output) in list(streams.items()):
                if not output.reader_gone:
                    drain(fd, output.write)
        finally:
            for stream, _ in streams.values():
                stream.close()
            self.stdout.close()
            if self.stderr is not None:
                self.stderr.close()
        return Outcome(returncode, timed_out=timed_out)

    def _copy_until_exit(self, proc: subprocess.Popen[bytes], streams: Streams) -> bool:
        """Pass output on until the process exits; True when its timeout stopped it."""
        pidfd = os.pidfd_open(proc.pid)
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        for fd in streams:
            poller.register(fd, select.POLLIN)
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        kill_at: float | None = None
        stopped = False
        try:
            while True:
                wake = kill_at if kill_at is not None else deadline
                wait_ms = None if wake is None else max(0, int((wake - time.monotonic()) * 1000))
                ready = poller.poll(wait_ms)
                exited = False
                for fd, _ in ready:
                    if fd == pidfd:
                        exited = True
                    elif fd in streams and not self._read(fd, streams[fd][1]):
                        poller.unregister(fd)
                        self._forget(fd, streams)
                if exited:
                    return stopped
                now = time.monotonic()
                if not stopped and deadline is not None and now >= deadline:
                    self._signal(signal.SIGTERM)
                    stopped, deadline, kill_at = True, None, now + self.kill_grace
                elif kill_at is not None and now >= kill_at:
                    self._signal(signal.SIGKILL)
                    kill_at = None
        finally:
            os.close(pidfd)

    @staticmethod
    def _read(fd: int, output: Output) -> bool:
        """Pass on one chunk; False at the end of the stream or once its reader is gone."""
        data = os.read(fd, _READ_BYTES)
        if not data:
            return False
        return output.write(data)

    @staticmethod
    def _forget(fd: int, streams: Streams) -> None:
        # Closing our end makes the command's next write fail with SIGPIPE, as it would
        # have when writing to the reader that went away.
        stream, _ = streams.pop(fd)
        stream.close()

    def _signal(self, signum: int) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return  # once reaped, its pid may name another process: never signal it
        try:
            if self.own_session:
                os.killpg(self.proc.pid, signum)
            else:
                os.kill(self.proc.pid, signum)
        except ProcessLookupError:
            return

    def pass_on(self, signum: int) -> None:
        """Pass a signal sent to wrap on to the command's process group. At a terminal the
        command shares our process group and gets SIGINT and SIGQUIT from it directly."""
        if not self.own_session and signum in (signal.SIGINT, signal.SIGQUIT):
            return
        self._signal(signum)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except InterruptedError:
            continue
