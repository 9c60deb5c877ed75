"""Attempts' log files: the one place that decides which paths runwatch may read, serve or
delete, and how it creates a new log file.

A log path comes from the store, which other processes and hosts write, so it is never
trusted as written: it is resolved (symbolic links and ``..`` followed) and used only when
the file it names lies inside this runwatch's own logs folder. A new log file is created
exclusively and without following a symbolic link at its name, so a link (or a hard link)
planted there cannot make a run write into the file it points at. Standard library
only: ``runwatch wrap`` creates its log files through this module.
"""

from __future__ import annotations

import errno
import os
import stat

from runner.errors import RunwatchError
from runner.filemodes import FILE_MODE, private_folder

_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class RefusedLogPathError(RunwatchError, PermissionError):
    """A recorded log path names something outside the logs folder, or not a plain file."""


def checked(path: str, logs_dir: str | os.PathLike[str]) -> str:
    """The real path of the recorded log file ``path``; RefusedLogPathError unless it lies
    inside ``logs_dir`` (itself resolved, so a home behind a symbolic link works)."""
    root = os.path.realpath(logs_dir)
    real = os.path.realpath(path)
    if real == root or os.path.commonpath((root, real)) != root:
        raise RefusedLogPathError(
            f"log file {path!r} is outside runwatch's logs folder {root}"
            + ("" if real == os.path.abspath(path) else f" (it resolves to {real})")
        )
    return real


def open_log(path: str, logs_dir: str | os.PathLike[str]) -> int:
    """A read-only descriptor on the recorded log file ``path``. RefusedLogPathError when it is
    outside ``logs_dir`` or not a regular file; FileNotFoundError when there is none."""
    real = checked(path, logs_dir)
    try:
        fd = os.open(real, _READ_FLAGS)
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # a link swapped in since ``checked`` resolved it
            raise RefusedLogPathError(f"log file {path!r} is a symbolic link") from None
        raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise RefusedLogPathError(f"log file {path!r} is not a regular file")
    os.set_blocking(fd, True)
    return fd


def read_log(path: str, logs_dir: str | os.PathLike[str], *, limit: int | None = None) -> bytes:
    """The bytes of the recorded log file ``path`` (at most ``limit``), as ``open_log``."""
    with os.fdopen(open_log(path, logs_dir), "rb") as handle:
        return handle.read() if limit is None else handle.read(limit)


def remove_log(path: str, logs_dir: str | os.PathLike[str]) -> bool:
    """Delete the recorded log file ``path``; False when it was gone already.
    RefusedLogPathError (nothing deleted) when it lies outside ``logs_dir``."""
    real = checked(path, logs_dir)
    try:
        os.unlink(real)
    except FileNotFoundError:
        return False
    return True


def create_log(path: str | os.PathLike[str]) -> tuple[int, str | None]:
    """Create the log file ``path`` (0600, in private folders) and open it for writing.

    Returns the descriptor and, when something was already at ``path`` (a stale log, or a
    symbolic or hard link planted there), a note saying it was replaced: the name is
    unlinked and a fresh file made, so whatever it pointed at is never written. OSError
    when no file can be created.
    """
    private_folder(os.path.dirname(os.path.abspath(path)))
    try:
        return os.open(path, _CREATE_FLAGS, FILE_MODE), None
    except FileExistsError:
        pass
    found = os.lstat(path)
    if stat.S_ISLNK(found.st_mode):
        note = f"was a symbolic link to {os.readlink(path)!r}"
    elif found.st_nlink > 1:
        note = f"was a hard link to a file with {found.st_nlink} names"
    else:
        note = "existed already"
    os.unlink(path)  # removes the name only, never the file a link points at
    return os.open(path, _CREATE_FLAGS, FILE_MODE), f"log file {path} {note}: replaced"
