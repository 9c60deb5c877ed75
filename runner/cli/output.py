"""The CLI's output layer: tables for people, JSON for programs, no colour when piped."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TextIO

from runner.model import RunState, TaskState

_COLOURS = {
    RunState.SUCCESS.value: "32",
    RunState.FAILED.value: "31",
    TaskState.TIMED_OUT.value: "31",
    TaskState.UPSTREAM_FAILED.value: "33",
    RunState.RUNNING.value: "36",
    TaskState.RETRYING.value: "33",
    RunState.CANCELLED.value: "35",
    TaskState.SKIPPED.value: "90",
}


def use_colour(stream: TextIO) -> bool:
    """Colour only on a terminal, and never when NO_COLOR is set."""
    return stream.isatty() and "NO_COLOR" not in os.environ


def paint(state: str, stream: TextIO) -> str:
    """A state word, coloured for a terminal."""
    return _painted(state, use_colour(stream))


def _painted(state: str, colour: bool) -> str:
    code = _COLOURS.get(state) if colour else None
    return f"\x1b[{code}m{state}\x1b[0m" if code else state


def iso(moment: datetime | None) -> str | None:
    """ISO 8601 or None."""
    return None if moment is None else moment.isoformat()


def short_time(moment: datetime | None) -> str:
    """A compact UTC time for tables."""
    return "-" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S")


def table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    stream: TextIO | None = None,
    state_column: int | None = None,
) -> None:
    """Print aligned columns; the state column is coloured on a terminal."""
    out = stream or sys.stdout
    colour = use_colour(out)  # once: a terminal check is a system call
    cells = [[("-" if v is None else str(v)) for v in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    print(
        "  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip(),
        file=out,
    )
    for row in cells:
        parts = []
        for i, (value, width) in enumerate(zip(row, widths, strict=True)):
            padded = value.ljust(width)
            if i == state_column:
                padded = _painted(value, colour) + " " * (width - len(value))
            parts.append(padded)
        print("  ".join(parts).rstrip(), file=out)


def emit_json(data: Any, stream: TextIO | None = None) -> None:
    """Print JSON (indented), datetimes as ISO 8601."""
    print(json.dumps(data, indent=2, default=_default), file=stream or sys.stdout)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
