"""Draining a child's output pipe once the child has exited.

A grandchild may hold the pipe open forever, so the drain never waits: it reads what is
there and stops at the end of the stream, at an empty pipe, or after a bound. Stdlib
only (``os``): wrap imports it on every cron invocation, and the local executor's
keeper process too.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    from collections.abc import Callable

_READ_BYTES = 65536
DRAIN_LIMIT_BYTES = 4 * 1024 * 1024
"""After the command exits, read at most this much more from a grandchild still writing."""


def drain(fd: int, write: Callable[[bytes], bool | None]) -> None:
    """Pass on to ``write`` what the pipe ``fd`` holds, without waiting; stop early when
    ``write`` returns False (nothing reads what it is given any more)."""
    os.set_blocking(fd, False)
    total = 0
    while total < DRAIN_LIMIT_BYTES:
        try:
            data = os.read(fd, _READ_BYTES)
        except BlockingIOError:
            return
        if not data:
            return
        total += len(data)
        if write(data) is False:
            return
