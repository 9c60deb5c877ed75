"""An attempt's exit status, kept in a file beside its logs that outlives its supervisor.

The command of an attempt runs under a *keeper* (runner.executors.local.keeper_process),
one long-lived process per executor that is the command's parent: it waits for the
command and writes ``<exit code> <signal>`` ("-" for the one that does not apply) to
``<task>.<n>.status`` atomically (write, then rename) before it reaps the command. Its
modification time is when the command ended. A supervisor that is alive hears the
outcome from the keeper; one that died leaves it for the scheduler that adopts the
attempt. Standard library only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

_SUFFIX = ".status"
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_MAX_BYTES = 64


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


def status_path(stdout_path: str | os.PathLike[str]) -> Path:
    """The status file of the attempt whose stdout log is ``stdout_path``."""
    return Path(stdout_path).with_suffix(_SUFFIX)


def read_status(path: str | os.PathLike[str]) -> ExitStatus | None:
    """The status written at ``path``; None when there is none (or it is not one)."""
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError:
        return None
    try:
        info = os.fstat(fd)
        text = os.read(fd, _MAX_BYTES).decode("ascii", errors="replace").split()
    finally:
        os.close(fd)
    if len(text) != 2 or not all(part == "-" or part.isdigit() for part in text):
        return None
    code, sig = (None if part == "-" else int(part) for part in text)
    if (code is None) == (sig is None):
        return None
    return ExitStatus(code, sig, datetime.fromtimestamp(info.st_mtime, UTC))


def discard(path: str | os.PathLike[str]) -> None:
    """Remove a status file once its outcome is recorded; a missing one is fine."""
    try:
        os.unlink(path)
    except OSError:
        return
