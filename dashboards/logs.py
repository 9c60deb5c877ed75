"""Captured task output, read from the log files whose paths the store records.

Only files inside runwatch's logs folder are read (``runner.logfiles`` decides): a path
recorded elsewhere is refused and logged, never shown or handed over for download.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from runner.store.logfiles import RefusedLogPathError, open_log, read_log

logger = logging.getLogger(__name__)

TAIL_BYTES = 64 * 1024
TAIL_LINES = 200
FULL_LOG_BYTES = 5 * 1024 * 1024
"""The most the page shows inline; the download button hands over the whole file."""


@dataclass(frozen=True)
class LogTail:
    """The end of a log file, or why there is none."""

    path: str | None
    text: str
    size: int
    truncated: bool
    missing: str | None = None
    """Why nothing could be read (no output captured, not on this machine, …)."""


def tail(
    path: str | None,
    logs_dir: str,
    *,
    max_bytes: int = TAIL_BYTES,
    max_lines: int = TAIL_LINES,
) -> LogTail:
    """The last ``max_lines`` lines (within ``max_bytes``) of the log file at ``path``."""
    if not path:
        return LogTail(path, "", 0, truncated=False, missing="no output captured")
    try:
        with os.fdopen(open_log(path, logs_dir), "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            handle.seek(max(0, size - max_bytes))
            data = handle.read(max_bytes)
    except FileNotFoundError:
        return LogTail(path, "", 0, truncated=False, missing="log file not found on this host")
    except RefusedLogPathError as exc:
        logger.warning("log not shown: %s", exc)
        return LogTail(path, "", 0, truncated=False, missing=f"not shown: {exc}")
    except OSError as exc:
        return LogTail(path, "", 0, truncated=False, missing=f"cannot read log file: {exc}")
    lines = data.decode("utf-8", errors="replace").splitlines()
    if size > max_bytes and lines:
        lines = lines[1:]  # the first line read is probably cut
    shown = lines[-max_lines:]
    truncated = size > max_bytes or len(lines) > len(shown)
    return LogTail(path, "\n".join(shown), size, truncated=truncated)


def read_full(path: str, logs_dir: str, *, limit: int | None = FULL_LOG_BYTES) -> bytes:
    """The file's bytes (at most ``limit`` from the start; all when ``limit`` is None);
    RefusedLogPathError when it lies outside ``logs_dir``."""
    return read_log(path, logs_dir, limit=limit)
