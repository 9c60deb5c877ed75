"""The run's attempts on a time axis: a row per task, a segment per attempt.

Times are kept to the millisecond, and every attempt gets a bar at least
``MIN_BAR_FRACTION`` of the run's span wide, so a 3 ms attempt in a 2 h run stays
visible (its tooltip gives the real duration). Past ``PAGE_ROWS`` tasks the rows come in
pages; the time axis spans the whole run on every page, so pages line up.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from dashboards.charts import Spec, state_colour, time_axis, wall_time
from dashboards.timezones import exact_duration_text, local_ms
from runner.store.dashboard_reads.results import AttemptRow

PAGE_ROWS = 200
"""Task rows on one page of the Gantt."""
MIN_BAR_FRACTION = 1 / 150
"""The narrowest bar, as a share of the run's span: 3 px or more on a 500 px chart."""
AXIS_PIXELS = 60
"""Room below the rows for the time axis and its title."""
_SHORTEST_SPAN = timedelta(milliseconds=1)


def task_order(attempts: Sequence[AttemptRow]) -> list[str]:
    """The tasks in the order their first attempt started (rows top to bottom)."""
    first: dict[str, datetime] = {}
    for a in attempts:
        if a.task not in first or a.started_at < first[a.task]:
            first[a.task] = a.started_at
    return sorted(first, key=lambda task: (first[task], task))


def pages(tasks: Sequence[str], size: int = PAGE_ROWS) -> list[tuple[int, int]]:
    """(first, last) row numbers, 1-based, of each page of ``tasks``."""
    return [(i + 1, min(i + size, len(tasks))) for i in range(0, len(tasks), size)]


def row_pixels(rows: int) -> int:
    """The height of one task row: roomy for a few tasks, compact for hundreds."""
    if rows <= 30:
        return 28
    if rows <= 80:
        return 20
    return 13


def height(rows: int) -> int:
    """Pixels for the rows of a Gantt of this many tasks (the axis not included)."""
    return max(84, rows * row_pixels(rows))


def gantt(
    attempts: Sequence[AttemptRow], zone: str, now: datetime, rows: Sequence[str] | None = None
) -> Spec:
    """One bar per attempt, coloured by its state, on the row of its task.

    ``rows`` picks the tasks drawn (a page), in order; the time axis covers every attempt
    of ``attempts``. A running attempt's bar ends at ``now``.
    """
    shown_rows = list(rows) if rows is not None else task_order(attempts)
    wanted = set(shown_rows)
    begin = min(a.started_at for a in attempts)
    end = max(_end(a, now) for a in attempts)
    span = max(end - begin, _SHORTEST_SPAN)
    narrowest = span * MIN_BAR_FRACTION
    values = [
        {
            "task": a.task,
            "attempt": f"{a.task} #{a.number}",
            "state": a.state.value,
            "start": wall_time(a.started_at, zone),
            "end": wall_time(max(_end(a, now), a.started_at + narrowest), zone),
            "from": local_ms(a.started_at, zone),
            "duration": exact_duration_text(a.duration_seconds) or "running",
            "exit": exit_text(a),
            "reason": a.reason or "",
        }
        for a in attempts
        if a.task in wanted
    ]
    step = row_pixels(len(shown_rows))
    x = time_axis("start", f"time ({zone})", _axis_format(span))
    x["scale"]["domain"] = [wall_time(begin, zone), wall_time(begin + span + narrowest, zone)]
    return {
        "data": {"values": values},
        "mark": {"type": "bar", "stroke": "#ffffff", "strokeWidth": 1},
        "encoding": {
            "x": x,
            "x2": {"field": "end"},
            "y": {
                "field": "task",
                "type": "nominal",
                "sort": shown_rows,
                "scale": {"domain": shown_rows},
                "title": None,
                "axis": {"labelFontSize": 12 if step > 13 else 10, "labelLimit": 220},
            },
            "color": state_colour({a.state.value for a in attempts}),
            "tooltip": [
                {"field": "attempt", "type": "nominal"},
                {"field": "state", "type": "nominal"},
                {"field": "from", "type": "nominal", "title": f"started ({zone})"},
                {"field": "duration", "type": "nominal"},
                {"field": "exit", "type": "nominal", "title": "exit code"},
                {"field": "reason", "type": "nominal"},
            ],
        },
        "height": height(len(shown_rows)),
        # drag or scroll along the time axis to zoom into a stretch of the run
        "params": [{"name": "zoom", "select": "interval", "bind": "scales", "encodings": ["x"]}],
        # SVG keeps each bar an element (with its aria label) for browsers and tests
        "usermeta": {"embedOptions": {"renderer": "svg"}},
    }


def _end(attempt: AttemptRow, now: datetime) -> datetime:
    return attempt.finished_at or max(now, attempt.started_at)


def exit_text(attempt: AttemptRow) -> str:
    """``0``, ``3``, ``signal 9``, or ``""`` while it runs."""
    if attempt.signal is not None:
        return f"signal {attempt.signal}"
    return "" if attempt.exit_code is None else str(attempt.exit_code)


def _axis_format(span: timedelta) -> str:
    """Milliseconds on the axis of a short run, dates on one of days."""
    if span < timedelta(minutes=1):
        return "%H:%M:%S.%L"
    if span < timedelta(days=1):
        return "%H:%M:%S"
    return "%m-%d %H:%M"
