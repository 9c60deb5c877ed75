"""Charts: the task DAG as Graphviz DOT, and Vega-Lite (Altair) timelines and trends.

Vega-Lite would show times in the browser's own zone; to show them in the viewer's
chosen zone instead, times are handed over as that zone's wall-clock time marked UTC,
and every axis reads them as UTC.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from dashboards.rows import AttemptRow, DailyOutcome, DurationPoint, TaskRow
from dashboards.timezones import duration_text, zone_of
from runner.model import RunState, TaskState

if TYPE_CHECKING:
    import altair as alt

# fill, border: readable on light and dark themes (Graphviz ignores the app theme)
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
_UTC_TIME = "%Y-%m-%dT%H:%M:%SZ"


def _quote(text: str) -> str:
    """A DOT string literal: quotes and backslashes escaped, newlines as DOT's ``\n``."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'



def dag_dot(tasks: Sequence[TaskRow], edges: Mapping[str, Sequence[str]]) -> str:
    """The run's tasks as a left-to-right DOT graph, each node filled by its state.

    ``edges`` maps a task to its upstream tasks; tasks missing from it are drawn alone.
    """
    lines = [
        "digraph run {",
        "  rankdir=LR;",
        '  bgcolor="transparent";',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11];',
        '  edge [color="#757575"];',
    ]
    known = {t.task for t in tasks}
    for task in tasks:
        fill, border = TASK_COLOURS.get(task.state, ("#ffffff", "#000000"))
        tries = f" · {task.attempts} attempts" if task.attempts > 1 else ""
        label = _quote(f"{task.task}\n{task.state.value}{tries}")
        lines.append(
            f'  {_quote(task.task)} [label={label}, fillcolor="{fill}", color="{border}", '
            'fontcolor="#212121"];'
        )
    for task in tasks:
        for upstream in edges.get(task.task, ()):
            if upstream in known:
                lines.append(f"  {_quote(upstream)} -> {_quote(task.task)};")
    lines.append("}")
    return "\n".join(lines)


def wall_time(moment: datetime | None, zone: str) -> str | None:
    """``moment`` as wall-clock time in ``zone``, written as if UTC (see the module doc)."""
    if moment is None:
        return None
    return moment.astimezone(zone_of(zone)).replace(tzinfo=None).strftime(_UTC_TIME)


def gantt(attempts: Sequence[AttemptRow], zone: str, now: datetime) -> alt.Chart:
    """One bar per attempt on a time axis, a row per task, coloured by the attempt's state;
    a running attempt's bar ends at ``now``."""
    import altair as alt

    values = [
        {
            "task": a.task,
            "attempt": f"{a.task} #{a.number}",
            "number": a.number,
            "state": a.state.value,
            "start": wall_time(a.started_at, zone),
            "end": wall_time(a.finished_at or now, zone),
            "duration": duration_text(a.duration_seconds) or "running",
            "exit": "" if a.exit_code is None else str(a.exit_code),
        }
        for a in attempts
    ]
    order = list(dict.fromkeys(a.task for a in attempts))
    return (
        alt.Chart(alt.Data(values=values))
        .mark_bar(cornerRadius=3, stroke="#ffffff", strokeWidth=1)
        .encode(
            x=alt.X("start:T", title=f"time ({zone})", scale=alt.Scale(type="utc")),
            x2="end:T",
            y=alt.Y("task:N", sort=order, title=None),
            color=_state_colour("state"),
            tooltip=[
                alt.Tooltip("attempt:N"),
                alt.Tooltip("state:N"),
                alt.Tooltip("start:T", format="%Y-%m-%d %H:%M:%S", scale=alt.Scale(type="utc")),
                alt.Tooltip("duration:N"),
                alt.Tooltip("exit:N", title="exit code"),
            ],
        )
        .properties(height=max(80, 36 * len(order)))
    )


def duration_trend(
    points: Sequence[DurationPoint], p50: float | None, p95: float | None, zone: str
) -> alt.LayerChart:
    """Run durations over time, coloured by outcome, with p50 and p95 rules."""
    import altair as alt

    values = [
        {
            "run": p.run_id,
            "started": wall_time(p.started_at, zone),
            "seconds": round(p.duration_seconds, 3),
            "duration": duration_text(p.duration_seconds),
            "state": p.state.value,
        }
        for p in points
    ]
    dots = (
        alt.Chart(alt.Data(values=values))
        .mark_circle(size=40, opacity=0.8)
        .encode(
            x=alt.X("started:T", title=f"started ({zone})", scale=alt.Scale(type="utc")),
            y=alt.Y("seconds:Q", title="duration (s)"),
            color=_state_colour("state"),
            tooltip=["run:Q", "state:N", "duration:N"],
        )
    )
    lines = [
        {"line": name, "seconds": value}
        for name, value in (("p50", p50), ("p95", p95))
        if value is not None
    ]
    rules = (
        alt.Chart(alt.Data(values=lines))
        .mark_rule(strokeDash=[6, 4])
        .encode(
            y="seconds:Q",
            color=alt.Color(
                "line:N",
                scale=alt.Scale(domain=["p50", "p95"], range=["#1565c0", "#6a1b9a"]),
                legend=alt.Legend(title="percentile"),
            ),
        )
    )
    return alt.layer(dots, rules).resolve_scale(color="independent").properties(height=260)


def daily_strip(days: Sequence[DailyOutcome]) -> alt.Chart:
    """Runs per day stacked by outcome: a calendar strip of the job's health."""
    import altair as alt

    values: list[dict[str, Any]] = [
        {"day": d.day.isoformat(), "state": state, "runs": n}
        for d in days
        for state, n in sorted(d.counts.items())
    ]
    values += [{"day": d.day.isoformat(), "state": "none", "runs": 0} for d in days if not d.counts]
    return (
        alt.Chart(alt.Data(values=values))
        .mark_bar()
        .encode(
            x=alt.X("day:O", title=None, sort=[d.day.isoformat() for d in days]),
            y=alt.Y("runs:Q", title="runs"),
            color=_state_colour("state"),
            tooltip=["day:O", "state:N", "runs:Q"],
        )
        .properties(height=160)
    )


def _state_colour(field: str) -> alt.Color:
    import altair as alt

    domain = [*STATE_COLOURS, "none"]
    return alt.Color(
        f"{field}:N",
        scale=alt.Scale(domain=domain, range=[*STATE_COLOURS.values(), "#ffffff"]),
        legend=alt.Legend(title="state"),
    )


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
