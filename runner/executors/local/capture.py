"""Capture of one output stream of an attempt: a size-capped log file, last lines, passthrough.

The keeper process (runner.executors.local.keeper_process) imports this at its start, so
it imports only the standard library and runwatch modules that do too (no ``logging``:
runner.executors.local.notices).
"""

from __future__ import annotations

import os

from runner.executors.local.notices import warn
from runner.store.logfiles import create_log

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the keeper's start)
if TYPE_CHECKING:
    from runner.engine.executor import AttemptSpec

ERROR_TAIL_LINES = 20
"""Lines of stderr (or of a traceback) kept on the attempt for alerts."""
TAIL_BYTES = 4096
"""At most this many of the last bytes are kept for the tail."""


class StreamCapture:
    """Writes one stream of one attempt to its log file up to a cap, keeps its last lines, and
    optionally copies it byte for byte to a file descriptor of this process.

    The log file (and its folder) is created at the first byte of output: a silent stream
    leaves no file, which saves a file creation per stream and attempt. Not thread-safe:
    one thread writes, then closes. Writes after ``close`` are ignored.
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        *,
        cap_bytes: int,
        passthrough_fd: int | None = None,
        header: bytes = b"",
    ) -> None:
        self._path = path
        self._header = header
        self._cap = max(cap_bytes, 0)
        self._passthrough_fd = passthrough_fd
        self._fd: int | None = None
        self._opened = False
        self._written = 0
        self._dropped = 0
        self._ends_with_newline = True
        self._tail = bytearray()
        self._tail_trimmed = False
        self._closed = False

    @property
    def dropped_bytes(self) -> int:
        """Bytes past the cap: counted, not written."""
        return self._dropped

    def write(self, data: bytes) -> None:
        """Take the next chunk of the stream."""
        if self._closed or not data:
            return
        self._keep_tail(data)
        if self._passthrough_fd is not None:
            self._pass_through(data)
        room = self._cap - self._written
        kept = data if len(data) <= room else data[: max(room, 0)]
        self._written += len(kept)
        self._dropped += len(data) - len(kept)
        if kept:
            self._ends_with_newline = kept.endswith(b"\n")
            self._write_file(kept)

    def tail(self, lines: int = ERROR_TAIL_LINES) -> str | None:
        """The last ``lines`` lines seen (utf-8, bad bytes replaced); None if there were none."""
        text = self._tail.decode("utf-8", errors="replace")
        kept = text.splitlines()
        if self._tail_trimmed and len(kept) > 1:
            kept = kept[1:]  # the first line was cut by the byte limit
        while kept and not kept[-1].strip():
            kept.pop()
        kept = kept[-lines:]
        return "\n".join(kept) if kept else None

    def close(self) -> None:
        """Note a truncation in the log file, and close it; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._dropped:
            notice = (
                f"[runwatch] output truncated: {self._dropped} more bytes not written"
                f" (cap {self._cap} bytes)\n"
            )
            self._write_file(("" if self._ends_with_newline else "\n").encode() + notice.encode())
        if self._fd is not None:
            try:
                os.close(self._fd)
            except OSError as exc:
                warn(__name__, f"closing log file {self._path} failed: {exc}")
            self._fd = None

    def _keep_tail(self, data: bytes) -> None:
        self._tail += data[-TAIL_BYTES:]
        if len(self._tail) > TAIL_BYTES:
            del self._tail[:-TAIL_BYTES]
            self._tail_trimmed = True

    def _write_file(self, data: bytes) -> None:
        if not self._opened:
            self._opened = True
            self._fd = _open_log(self._path)
            data = self._header + data
        if self._fd is None:
            return
        try:
            write_all(self._fd, data)
        except OSError as exc:
            warn(__name__, f"writing log file {self._path} failed, no more output kept: {exc}")
            os.close(self._fd)
            self._fd = None

    def _pass_through(self, data: bytes) -> None:
        assert self._passthrough_fd is not None
        try:
            write_all(self._passthrough_fd, data)
        except OSError as exc:
            warn(__name__, f"passthrough to fd {self._passthrough_fd} failed, stopped: {exc}")
            self._passthrough_fd = None


def log_header(spec: AttemptSpec) -> bytes:
    """The first line of an attempt's log files when it is traced, so the captured output
    carries the attempt's trace and span ids; nothing when tracing is off."""
    parts = spec.env.get("TRACEPARENT", "").split("-")
    if len(parts) != 4:
        return b""
    return (
        f"# runwatch job={spec.job} task={spec.task.name} run={spec.run_id} "
        f"attempt={spec.attempt} trace_id={parts[1]} span_id={parts[2]}\n"
    ).encode()


def attempt_captures(spec: AttemptSpec) -> tuple[StreamCapture, StreamCapture]:
    """The stdout and stderr captures of an attempt, as its spec asks."""
    header = log_header(spec)
    return (
        StreamCapture(
            spec.stdout_path,
            cap_bytes=spec.log_cap_bytes,
            passthrough_fd=1 if spec.passthrough else None,
            header=header,
        ),
        StreamCapture(
            spec.stderr_path,
            cap_bytes=spec.log_cap_bytes,
            passthrough_fd=2 if spec.passthrough else None,
            header=header,
        ),
    )


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd``, however many calls it takes."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _open_log(path: str | os.PathLike[str] | None) -> int | None:
    if path is None:
        return None
    try:
        fd, replaced = create_log(path)
    except OSError as exc:
        # The attempt still runs (its tail is still kept): a full or read-only log volume
        # must not stop the jobs being monitored.
        warn(__name__, f"cannot open log file {path}, output not kept: {exc}")
        return None
    if replaced:
        warn(__name__, replaced)
    return fd
