"""Time as runwatch sees it: aware UTC, injectable for tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
"""A source of "now": aware UTC datetimes. Core code takes one instead of reading time."""


def utcnow() -> datetime:
    """The current time, aware UTC."""
    return datetime.fromtimestamp(time.time(), UTC)
