"""The Gantt of a run's attempts as plain Vega-Lite data: milliseconds, minimum widths,
one segment per attempt, pages of rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboards.gantt import MIN_BAR_FRACTION, PAGE_ROWS, gantt, height, pages, task_order
from runner.model import TaskState
from runner.store.dashboard_reads.results import AttemptRow

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def attempt(
    task: str, number: int, state: TaskState, start: float, end: float | None, **kw: object
) -> AttemptRow:
    """An attempt from ``start`` to ``end`` seconds after T0 (None: still running)."""
    fields: dict[str, object] = {
        "id": number,
        "task": task,
        "number": number,
        "state": state,
        "started_at": T0 + timedelta(seconds=start),
        "finished_at": None if end is None else T0 + timedelta(seconds=end),
        "duration_seconds": None if end is None else end - start,
        "exit_code": None if end is None else (0 if state is TaskState.SUCCESS else 3),
        "signal": None,
        "reason": None,
        "error": None,
        "stdout_path": None,
        "stderr_path": None,
        "pool": None,
        "span_id": None,
    }
    fields.update(kw)
    return AttemptRow(**fields)  # type: ignore[arg-type]


def seconds(wall: str) -> float:
    """A bar's wall time (UTC here) as seconds after T0."""
    return (datetime.fromisoformat(wall) - T0).total_seconds()


def test_the_gantt_has_a_bar_per_attempt_in_the_viewers_wall_time() -> None:
    spec = gantt(
        [
            attempt("transform", 1, TaskState.FAILED, 0, 20),
            attempt("transform", 2, TaskState.SUCCESS, 30, 150),
            attempt("load", 1, TaskState.RUNNING, 150, None),
        ],
        "Europe/Berlin",
        now=T0 + timedelta(seconds=200),
    )

    bars = spec["data"]["values"]
    assert [(b["attempt"], b["state"], b["start"], b["end"]) for b in bars] == [
        ("transform #1", "failed", "2024-05-01T14:00:00.000Z", "2024-05-01T14:00:20.000Z"),
        ("transform #2", "success", "2024-05-01T14:00:30.000Z", "2024-05-01T14:02:30.000Z"),
        ("load #1", "running", "2024-05-01T14:02:30.000Z", "2024-05-01T14:03:20.000Z"),
    ]
    assert spec["encoding"]["x"]["scale"]["type"] == "utc"
    assert spec["encoding"]["y"]["sort"] == ["transform", "load"]


def test_attempts_within_one_second_keep_their_milliseconds() -> None:
    spec = gantt(
        [
            attempt("extract", 1, TaskState.SUCCESS, 0.010, 0.250),
            attempt("load", 1, TaskState.SUCCESS, 0.250, 0.900),
        ],
        "UTC",
        now=T0 + timedelta(seconds=1),
    )

    bars = spec["data"]["values"]
    assert [(seconds(b["start"]), seconds(b["end"])) for b in bars] == [(0.01, 0.25), (0.25, 0.9)]
    assert [(b["from"], b["duration"]) for b in bars] == [
        ("2024-05-01 12:00:00.010", "240 ms"),
        ("2024-05-01 12:00:00.250", "650 ms"),
    ]
    assert spec["encoding"]["x"]["axis"]["labelExpr"] == "utcFormat(datum.value, '%H:%M:%S.%L')"


def test_an_attempt_far_shorter_than_the_run_still_gets_a_visible_bar() -> None:
    spec = gantt(
        [
            attempt("ping", 1, TaskState.SUCCESS, 0, 0.003),
            attempt("load", 1, TaskState.SUCCESS, 0.003, 3600),
        ],
        "UTC",
        now=T0 + timedelta(hours=2),
    )

    ping, load = spec["data"]["values"]
    assert seconds(ping["end"]) - seconds(ping["start"]) == pytest.approx(3600 * MIN_BAR_FRACTION)
    assert ping["duration"] == "3 ms"  # the tooltip keeps the real duration
    assert seconds(load["end"]) == 3600
    domain = [seconds(t) for t in spec["encoding"]["x"]["scale"]["domain"]]
    assert domain == pytest.approx([0, 3600 * (1 + MIN_BAR_FRACTION)])


def test_a_task_tried_three_times_has_three_segments_on_its_row_with_their_states() -> None:
    spec = gantt(
        [
            attempt("flaky", 1, TaskState.FAILED, 0, 0.2, reason="exit code 3"),
            attempt("flaky", 2, TaskState.TIMED_OUT, 0.5, 0.7, exit_code=None, signal=15),
            attempt("flaky", 3, TaskState.SUCCESS, 1.0, 1.1),
        ],
        "UTC",
        now=T0 + timedelta(seconds=2),
    )

    bars = spec["data"]["values"]
    assert [(b["task"], b["state"], b["exit"], b["reason"]) for b in bars] == [
        ("flaky", "failed", "3", "exit code 3"),
        ("flaky", "timed_out", "signal 15", ""),
        ("flaky", "success", "0", ""),
    ]
    assert spec["encoding"]["y"]["scale"]["domain"] == ["flaky"]
    tooltip = [t["field"] for t in spec["encoding"]["tooltip"]]
    assert {"from", "duration", "exit", "reason"} <= set(tooltip)
    assert spec["encoding"]["color"]["scale"]["domain"] == ["success", "failed", "timed_out"]


def test_rows_follow_the_first_start_and_a_page_draws_only_its_rows_on_the_whole_axis() -> None:
    attempts = [attempt(f"t{i:04d}", 1, TaskState.SUCCESS, 2000 - i, 2001 - i) for i in range(2000)]
    order = task_order(attempts)
    assert order[:2] == ["t1999", "t1998"]
    assert pages(order)[:2] == [(1, PAGE_ROWS), (PAGE_ROWS + 1, 2 * PAGE_ROWS)]
    assert pages(order)[-1] == (2000 - PAGE_ROWS + 1, 2000)

    spec = gantt(attempts, "UTC", T0, rows=order[PAGE_ROWS : 2 * PAGE_ROWS])

    assert len(spec["data"]["values"]) == PAGE_ROWS
    assert {b["task"] for b in spec["data"]["values"]} == set(order[PAGE_ROWS : 2 * PAGE_ROWS])
    assert seconds(spec["encoding"]["x"]["scale"]["domain"][0]) == 1
    assert spec["height"] == height(PAGE_ROWS) < 3000


def test_rows_get_compact_as_tasks_grow() -> None:
    assert height(1) == 84
    assert height(6) == 6 * 28
    assert height(PAGE_ROWS) == PAGE_ROWS * 13
