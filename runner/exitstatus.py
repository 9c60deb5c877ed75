"""An attempt's process and exit status, read from the file its keeper writes beside its
logs (runner.statusfile: the format), which outlives the attempt's supervisor.

The command of an attempt runs under a *keeper* (runner.executors.local.keeper_process),
one long-lived process per executor that is the command's parent. The keeper's lines
say, from before the spawn on, who runs the command, then how it ended, so the command
can be recognised even when its supervisor dies before it records the pid, and its
outcome adopted. A supervisor that is alive hears the outcome from the keeper; one that
died leaves it for the scheduler that adopts the attempt. Standard library only.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime

from runner import statusfile

_SUFFIX = ".status"
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_MAX_BYTES = 512


@dataclass(frozen=True)
class ExitStatus:
    """How an attempt's command ended, as its keeper saw it."""

    exit_code: int | None
    signal: int | None
    ended_at: datetime

    @property
    def returncode(self) -> int:
        """As ``subprocess``: the exit code, or minus the signal that killed the command."""
        return -self.signal if self.signal is not None else (self.exit_code or 0)


@dataclass(frozen=True)
class Spawn:
    """What the keeper wrote at an attempt's spawn: the command's pid and start time
    (``runner.processes.process_start``), or, while it is ``spawning`` the command, its own."""

    pid: int
    start: str
    spawning: bool = False


def status_path(stdout_path: str | os.PathLike[str]) -> str:
    """The status file of the attempt whose stdout log is ``stdout_path`` (``<task>.<n>.out``:
    ``<task>.<n>.status``)."""
    return os.path.splitext(os.fspath(stdout_path))[0] + _SUFFIX


def read_status(path: str | os.PathLike[str]) -> ExitStatus | None:
    """How the command of the status file at ``path`` ended; None while it has not (or
    when there is no such file). A file of one line ``<code> <signal>`` is the whole
    status of a command kept by a Perl keeper of an earlier runwatch: it ended when the
    file was last modified."""
    read = _read(path)
    if read is None:
        return None
    lines, modified = read
    for words in reversed(lines):
        if words[0] == statusfile.EXIT and len(words) == 4:
            return _status(words[1], words[2], words[3])
    if len(lines) == 1 and len(lines[0]) == 2:
        return _status(lines[0][0], lines[0][1], str(modified))
    return None


def _status(code_word: str, sig_word: str, at: str) -> ExitStatus | None:
    if not all(part == "-" or part.isdigit() for part in (code_word, sig_word)):
        return None
    code, sig = (None if part == "-" else int(part) for part in (code_word, sig_word))
    try:
        ended_at = datetime.fromtimestamp(float(at), UTC)
    except (ValueError, OverflowError, OSError):
        return None
    if (code is None) == (sig is None):
        return None
    return ExitStatus(code, sig, ended_at)


def read_spawn(path: str | os.PathLike[str]) -> Spawn | None:
    """The spawn recorded in the status file at ``path``: the command's process, else the
    keeper's while it spawns the command; None when there is none."""
    read = _read(path)
    if read is None:
        return None
    found = {words[0]: words for words in read[0] if len(words) == 3 and words[1].isdigit()}
    for kind, spawning in ((statusfile.COMMAND, False), (statusfile.KEEPER, True)):
        if kind in found:
            return Spawn(int(found[kind][1]), found[kind][2], spawning)
    return None


def renew(path: str | os.PathLike[str]) -> None:
    """Touch a status file: a command kept with a fence is not stopped while this goes on
    (runner.executors.local.keeper_process)."""
    with contextlib.suppress(OSError):
        os.utime(path)


def _read(path: str | os.PathLike[str]) -> tuple[list[list[str]], float] | None:
    """The whole lines of the file, split into words (blank ones left out), and when it
    was last modified; None when it cannot be read."""
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError:
        return None
    try:
        modified = os.fstat(fd).st_mtime
        text = os.read(fd, _MAX_BYTES).decode("ascii", errors="replace")
    except OSError:
        return None
    finally:
        os.close(fd)
    whole = text.split("\n")[:-1]  # what follows the last newline is still being written
    return [line.split() for line in whole if line.split()], modified


def discard(path: str | os.PathLike[str]) -> None:
    """Remove a status file once its outcome is recorded; a missing one is fine."""
    statusfile.discard(os.fspath(path))
