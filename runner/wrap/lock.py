"""One lock per wrapped job, so ``--overlap skip|wait`` keeps a slow run from piling up.

``flock`` on ``$RUNWATCH_HOME/locks/<job>.lock``: the kernel releases it when the holder
exits however it exits, so a crashed wrap never leaves a stale lock behind. The file
descriptor is close-on-exec: the wrapped command never holds the lock itself.
"""

from __future__ import annotations

import fcntl
import os

from runner.filemodes import FILE_MODE, private_folder


class JobLock:
    """The lock of one job; ``acquire`` it, then ``release`` it (or exit)."""

    def __init__(self, lock_dir: str, job: str) -> None:
        self.path = os.path.join(lock_dir, f"{job}.lock")
        self._fd: int | None = None

    def acquire(self, *, wait: bool) -> bool:
        """Take the lock; False when another run holds it and ``wait`` is False.

        OSError when the lock file cannot be created.
        """
        private_folder(os.path.dirname(self.path))
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return True

    def release(self) -> None:
        """Let the next run of the job start; idempotent."""
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor releases the flock
            self._fd = None
