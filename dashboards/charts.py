"""Charts: state colours and the Vega-Lite specifications of the job page's timelines.

Vega-Lite would show times in the browser's own zone; to show them in the viewer's
chosen zone instead, times are handed over as that zone's wall-clock time marked UTC,
and every axis reads them as UTC.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from dashboards.timezones import duration_text, exact_duration_text, local_ms, zone_of
from runner.model import RunState, TaskState
from runner.store.dashboard_reads.results import DailyOutcome, DurationPoint

Spec = dict[str, Any]
"""A Vega-Lite specification (or a part of one), for ``st.vega_lite_chart``."""

# fill, border of a task graph node: readable on light and dark themes
TASK_COLOURS: Mapping[TaskState, tuple[str, str]] = {
    TaskState.SUCCESS: ("#c8e6c9", "#2e7d32"),
    TaskState.FAILED: ("#ffcdd2", "#c62828"),
    TaskState.TIMED_OUT: ("#ffcdd2", "#8e0000"),
    TaskState.UPSTREAM_FAILED: ("#ffe0b2", "#e65100"),
    TaskState.RETRYING: ("#fff59d", "#f9a825"),
    TaskState.RUNNING: ("#bbdefb", "#1565c0"),
    TaskState.PENDING: ("#f5f5f5", "#9e9e9e"),
    TaskState.SKIPPED: ("#eeeeee", "#616161"),
    TaskState.CANCELLED: ("#e0e0e0", "#424242"),
}
STATE_COLOURS: Mapping[str, str] = {
    "success": "#2e7d32",
    "failed": "#c62828",
    "timed_out": "#8e0000",
    "cancelled": "#757575",
    "running": "#1565c0",
    "queued": "#9e9e9e",
    "retrying": "#f9a825",
    "skipped": "#bdbdbd",
    "upstream_failed": "#e65100",
    "pending": "#e0e0e0",
}


def wall_time(moment: datetime | None, zone: str) -> str | None:
    """``moment`` as wall-clock time in ``zone`` to the millisecond, written as if UTC (see
    the module doc)."""
    if moment is None:
        return None
    shown = moment.astimezone(zone_of(zone)).replace(tzinfo=None)
    return shown.isoformat(timespec="milliseconds") + "Z"


def duration_trend(
    points: Sequence[DurationPoint], p50: float | None, p95: float | None, zone: str
) -> Spec:
    """Run durations over time, coloured by outcome, with p50 and p95 rules."""
    values = [
        {
            "run": p.run_id,
            "started": wall_time(p.started_at, zone),
            "at": local_ms(p.started_at, zone),
            "seconds": round(p.duration_seconds, 3),
            "duration": exact_duration_text(p.duration_seconds),
            "state": p.state.value,
        }
        for p in points
    ]
    dots = {
        "data": {"values": values},
        "mark": {"type": "circle", "size": 40, "opacity": 0.8},
        "encoding": {
            "x": time_axis("started", f"started ({zone})", "%m-%d %H:%M"),
            "y": {"field": "seconds", "type": "quantitative", "title": "duration (s)"},
            "color": state_colour({p.state.value for p in points}),
            "tooltip": [
                {"field": "run", "type": "quantitative"},
                {"field": "state", "type": "nominal"},
                {"field": "at", "type": "nominal", "title": "started"},
                {"field": "duration", "type": "nominal"},
            ],
        },
    }
    lines = [
        {"line": name, "seconds": value, "duration": duration_text(value)}
        for name, value in (("p50", p50), ("p95", p95))
        if value is not None
    ]
    rules = {
        "data": {"values": lines},
        "mark": {"type": "rule", "strokeDash": [6, 4], "strokeWidth": 2},
        "encoding": {
            "y": {"field": "seconds", "type": "quantitative"},
            "color": {
                "field": "line",
                "type": "nominal",
                "scale": {"domain": ["p50", "p95"], "range": ["#1565c0", "#6a1b9a"]},
                "legend": {"title": "percentile"},
            },
            "tooltip": [{"field": "line", "type": "nominal"}, {"field": "duration"}],
        },
    }
    return {"layer": [dots, rules], "resolve": {"scale": {"color": "independent"}}, "height": 260}


def daily_strip(days: Sequence[DailyOutcome]) -> Spec:
    """Runs per day stacked by outcome: a calendar strip of the job's health."""
    values: list[dict[str, Any]] = [
        {"day": d.day.strftime("%m-%d"), "state": state, "runs": n}
        for d in days
        for state, n in sorted(d.counts.items())
    ]
    present = {v["state"] for v in values}
    return {
        "data": {"values": values},
        "mark": {"type": "bar"},
        "encoding": {
            "x": {
                "field": "day",
                "type": "ordinal",
                "title": None,
                "scale": {"domain": [d.day.strftime("%m-%d") for d in days]},
                "axis": {"labelAngle": 0 if len(days) <= 14 else -45},
            },
            "y": {"field": "runs", "type": "quantitative", "title": "runs"},
            "color": state_colour(present),
            "tooltip": [
                {"field": "day", "type": "ordinal"},
                {"field": "state", "type": "nominal"},
                {"field": "runs", "type": "quantitative"},
            ],
        },
        "height": 160,
    }


def time_axis(field: str, title: str, fmt: str) -> Spec:
    """A time axis of wall-time values labelled with ``fmt`` (strftime-like, d3's)."""
    # 24-hour labels; "utc" because the values are already the viewer's wall time
    return {
        "field": field,
        "type": "temporal",
        "title": title,
        "scale": {"type": "utc"},
        "axis": {"labelExpr": f"utcFormat(datum.value, '{fmt}')", "labelOverlap": True},
    }


def state_colour(present: set[str] | None = None) -> Spec:
    """Each state in its colour; the legend lists the states in the chart only."""
    shown = [s for s in STATE_COLOURS if present is None or s in present]
    return {
        "field": "state",
        "type": "nominal",
        "scale": {"domain": shown, "range": [STATE_COLOURS[s] for s in shown]},
        "legend": {"title": "state"},
    }


def run_state_icon(state: RunState | TaskState | str | None) -> str:
    """A coloured dot and the state's name, for tables."""
    if state is None:
        return ""
    value = state.value if isinstance(state, RunState | TaskState) else state
    icon = {
        "success": "🟢",
        "failed": "🔴",
        "timed_out": "🔴",
        "upstream_failed": "🟠",
        "running": "🔵",
        "queued": "⚪",
        "retrying": "🟡",
        "pending": "⚪",
        "skipped": "⚫",
        "cancelled": "⚫",
    }.get(value, "")
    return f"{icon} {value}".strip()
