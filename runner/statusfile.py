"""The file beside an attempt's logs, ``<task>.<n>.status``, where the keeper that runs
the attempt's command (runner.executors.local.keeper_process) tells, line by line, who
runs it and how it ended; runner.exitstatus reads it back. Standard library only: the
keeper imports it at its start.

    keeper <pid> <start>           before the spawn: this keeper is spawning the command
    command <pid> <start>          the command runs (before the keeper's parent hears of it)
    exit <code> <signal> <time>    the command ended, before it is reaped ("-" for the one
                                   of code and signal that does not apply; seconds since
                                   the epoch)

``start`` is the process's start time (runner.processes.process_start), so a recycled pid
is not mistaken for the process. Lines are only appended, each by one ``write``, and a
reader trusts only whole lines: it sees the story so far, never part of a line. The file
is created with its first line and removed once the attempt's outcome is recorded, so no
file means that no command was started. One file, created once and removed once: its
story costs two changes of the logs folder, where one file per step (each written, then
renamed into place) cost nine. The keeper holds it open from the first line to the last.
"""

from __future__ import annotations

import contextlib
import os
import time

KEEPER, COMMAND, EXIT = "keeper", "command", "exit"
"""The first word of each line."""
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC


def begin(path: str, keeper: str) -> int | None:
    """Create the file at ``path`` (replacing any left there, never through a link) with
    the line naming ``keeper`` (``<pid> <start>``); the open file, for ``ran`` and
    ``ended``, which closes it. None when it cannot be written: the command must run
    regardless."""
    try:
        fd = _create(path)
    except OSError:
        return None
    if not _write(fd, f"{KEEPER} {keeper}\n"):
        os.close(fd)
        discard(path)
        return None
    return fd


def ran(fd: int, pid: int, start: str | None) -> bool:
    """Add the command's line; True when the file now tells who runs the command (its
    start time unknown, the command has exited: the ``exit`` line comes before its reap)."""
    return start is None or _write(fd, f"{COMMAND} {pid} {start}\n")


def ended(fd: int, returncode: int) -> None:
    """Add the line of how the command ended (``returncode`` as ``subprocess``'s) and close
    the file."""
    code, sig = ("-", str(-returncode)) if returncode < 0 else (str(returncode), "-")
    try:
        _write(fd, f"{EXIT} {code} {sig} {time.time():.6f}\n")
    finally:
        os.close(fd)


def discard(path: str) -> None:
    """Remove the file; a missing one is fine."""
    with contextlib.suppress(OSError):
        os.unlink(path)


def _create(path: str) -> int:
    """Open a new file at ``path``, replacing one (or a link) left there."""
    try:
        return os.open(path, _CREATE, 0o600)
    except FileExistsError:
        discard(path)
        return os.open(path, _CREATE, 0o600)


def _write(fd: int, line: str) -> bool:
    data = line.encode()
    try:
        return os.write(fd, data) == len(data)
    except OSError:
        return False
