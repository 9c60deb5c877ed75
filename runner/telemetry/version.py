"""The installed runwatch version, for ``service.version`` and ``runwatch_build_info``."""

from __future__ import annotations

import functools


@functools.cache
def runwatch_version() -> str:
    """The version of the installed runwatch distribution, or ``unknown`` in a bare checkout."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("runwatch")
    except PackageNotFoundError:
        return "unknown"
