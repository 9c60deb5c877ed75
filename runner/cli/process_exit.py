"""Ending a finished command's process without the interpreter's teardown.

Tearing the interpreter down (each module's globals, then a last garbage collection)
costs more than the rest of `wrap`, and 20-50 ms after a `run`; none of it matters once
the command's work is done: the store's commits are in SQLite's write-ahead log (the
next writer checkpoints), and what would still be lost is done here first.
"""

from __future__ import annotations

import atexit
import os
import sys
from contextlib import suppress

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (wrap imports this)
if TYPE_CHECKING:
    from typing import NoReturn


def exit_now(status: int) -> NoReturn:
    """Run the ``atexit`` handlers (telemetry's last export, logging's flush), flush the
    standard streams, and end the process with ``status``."""
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:  # None when started with the descriptor closed
            with suppress(OSError, ValueError):  # a reader gone cannot change the status
                stream.flush()
    os._exit(status)
