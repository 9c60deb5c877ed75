"""Parse byte sizes such as ``10MiB``, ``512KiB``, ``2GB`` or a plain number of bytes."""

from __future__ import annotations

import re

_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
}
_SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([a-z]*)", re.IGNORECASE)


def parse_size(value: object) -> int:
    """Return bytes for a size given as a whole number or a string like ``10MiB``.

    Raises ValueError with a message saying what is accepted.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"a size cannot be negative, got {value!r}")
        return value
    match = _SIZE.fullmatch(value.strip()) if isinstance(value, str) else None
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS:
        raise ValueError(
            f"expected a size such as 512KiB, 10MiB or 1GB (units B KB MB GB KiB MiB GiB), "
            f"got {value!r}"
        )
    return int(float(match.group(1)) * _UNITS[unit])
