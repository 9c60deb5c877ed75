"""What runwatch creates is its user's alone: folders 0700, files 0600.

runwatch often runs as root, and its home holds captured output (which may contain
anything a task printed), the store and results waiting in the spool. Modes are given
at creation, never by changing this process's umask, which tasks would inherit. Folders
and files that exist already keep the modes their owner chose. Standard library only:
``runwatch wrap`` imports this on every cron invocation.
"""

from __future__ import annotations

import os

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def private_folder(path: str | os.PathLike[str]) -> None:
    """Create ``path`` and any missing parent, each 0700; folders that exist are left as
    they are. OSError when one cannot be created."""
    missing = []
    folder = os.path.abspath(path)
    while not os.path.isdir(folder):
        missing.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    for created in reversed(missing):
        try:
            os.mkdir(created, FOLDER_MODE)
        except FileExistsError:
            if not os.path.isdir(created):
                raise
            # made by a concurrent process: fine


def private_file(path: str | os.PathLike[str]) -> None:
    """Create an empty file at ``path``, 0600, in a private folder, unless one is there.

    For files a library creates with default modes (SQLite's database, whose ``-wal`` and
    ``-shm`` files then take the database file's mode).
    """
    private_folder(os.path.dirname(os.path.abspath(path)))
    try:
        fd = os.open(
            path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE
        )
    except FileExistsError:
        return
    os.close(fd)
