"""An attempt's process and exit status, kept in files beside its logs that outlive its
supervisor.

The command of an attempt runs under a *keeper* (runner.executors.local.keeper_process),
one long-lived process per executor that is the command's parent. Before it spawns the
command it writes ``<its pid> <its start>`` to ``<task>.<n>.spawning``, and once the
command runs ``<pid> <start>`` to ``<task>.<n>.pid`` (then removes the first): so the
command can be recognised even when its supervisor dies before it records the pid. It
waits for the command and writes ``<exit code> <signal>`` ("-" for the one that does
not apply) to ``<task>.<n>.status`` before it removes the pid file and reaps the
command. Each file is written before the one before it is removed, so none of the three
(read in that order) means that no command was started. The status file's modification
time is when the command ended. Each file is written atomically (write, then rename). A
supervisor that is alive hears the outcome from the keeper; one that died leaves it for
the scheduler that adopts the attempt. Standard library only.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

_SUFFIX = ".status"
_SPAWN_SUFFIX = ".pid"
_SPAWNING_SUFFIX = ".spawning"
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_MAX_BYTES = 128


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


def spawn_path(path: str | os.PathLike[str]) -> Path:
    """The pid file of the attempt whose stdout log (or status file) is ``path``."""
    return Path(path).with_suffix(_SPAWN_SUFFIX)


def discard_spawn(path: str | os.PathLike[str], *, spawning_only: bool = False) -> None:
    """Remove the pid file ``path`` and the keeper's "spawning" file beside it (or only
    that); missing ones are fine. The keeper writes each as a new file (write, then
    rename): replacing one would flush its data on ext4."""
    discard(_spawning_path(path))
    if not spawning_only:
        discard(path)


def renew_spawn(path: str | os.PathLike[str]) -> None:
    """Touch a pid file: a command kept with a fence is not stopped while this goes on."""
    with contextlib.suppress(OSError):
        os.utime(path)


def read_spawn(path: str | os.PathLike[str]) -> Spawn | None:
    """The spawn recorded at the pid file ``path``: the command's, else the keeper's while
    it spawns it; None when there is none. The "spawning" file is read first: the keeper
    writes the pid file before it removes that one, so a spawn is never missed."""
    spawning = _read_process(_spawning_path(path), spawning=True)
    return _read_process(path, spawning=False) or spawning


def _read_process(path: str | os.PathLike[str], *, spawning: bool) -> Spawn | None:
    words = (_read(path) or "").split()
    if len(words) != 2 or not words[0].isdigit():
        return None
    return Spawn(int(words[0]), words[1], spawning)


def _spawning_path(path: str | os.PathLike[str]) -> Path:
    return Path(path).with_suffix(_SPAWNING_SUFFIX)


def _read(path: str | os.PathLike[str]) -> str | None:
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError:
        return None
    try:
        return os.read(fd, _MAX_BYTES).decode("ascii", errors="replace")
    finally:
        os.close(fd)


def discard(path: str | os.PathLike[str]) -> None:
    """Remove a status file once its outcome is recorded; a missing one is fine."""
    try:
        os.unlink(path)
    except OSError:
        return
