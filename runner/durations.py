"""Parse and format human durations such as ``90s``, ``5m``, ``1h30m`` or ``500ms``."""

from __future__ import annotations

import math
import re

MAX_DURATION_SECONDS = 3650 * 86400.0
"""Ten years: the longest duration accepted anywhere. Longer ones overflow date arithmetic
(``timedelta``) deep in the scheduler, so they are refused where they are read."""

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(value: object) -> float:
    """Return seconds for a duration given as a number of seconds or a string like ``1h30m``.

    Raises ValueError with a message saying what is accepted.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 30s, 5m or 2h, got {value!r}")
    if isinstance(value, int | float):
        return _bounded(float(value), value)
    if not isinstance(value, str):
        raise ValueError(f"expected a duration such as 30s, 5m or 2h, got {value!r}")
    text = value.strip().replace(" ", "")
    if not text:
        raise ValueError("expected a duration such as 30s, 5m or 2h, got an empty string")
    total = 0.0
    pos = 0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text) or pos == 0:
        raise ValueError(
            f"expected a duration such as 30s, 5m, 2h or 1h30m (units ms s m h d w), got {value!r}"
        )
    return _bounded(total, value)


def _bounded(seconds: float, given: object) -> float:
    if math.isnan(seconds):
        raise ValueError(f"expected a duration such as 30s, 5m or 2h, got {given!r}")
    if seconds < 0:
        raise ValueError(f"a duration cannot be negative, got {given!r}")
    if seconds > MAX_DURATION_SECONDS:
        raise ValueError(f"a duration can be at most 3650d (ten years), got {given!r}")
    return seconds


def format_duration(seconds: float) -> str:
    """Format seconds compactly for people: ``450ms``, ``12.3s``, ``4m05s``, ``2h03m``."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"
