"""The DAG as DOT and the Vega-Lite specifications, as plain data."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from dashboards.charts import daily_strip, duration_trend, run_state_icon
from runner.model import RunState, TaskState
from runner.store.dashboard_reads.results import DailyOutcome, DurationPoint

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def test_the_duration_trend_draws_p50_and_p95_rules() -> None:
    points = [
        DurationPoint(1, RunState.SUCCESS, T0, 60.0),
        DurationPoint(2, RunState.FAILED, T0 + timedelta(milliseconds=125), 0.0042),
    ]
    spec = duration_trend(points, 32.5, 60.0, "UTC")

    dots, rules = spec["layer"]
    assert [
        (v["started"], v["at"], v["seconds"], v["duration"]) for v in dots["data"]["values"]
    ] == [
        ("2024-05-01T12:00:00.000Z", "2024-05-01 12:00:00.000", 60.0, "1 min 0.000 s"),
        ("2024-05-01T12:00:00.125Z", "2024-05-01 12:00:00.125", 0.004, "4 ms"),
    ]
    assert rules["data"]["values"] == [
        {"line": "p50", "seconds": 32.5, "duration": "32 s"},
        {"line": "p95", "seconds": 60.0, "duration": "1 min"},
    ]


def test_the_daily_strip_keeps_every_day_in_order() -> None:
    days = [
        DailyOutcome(date(2024, 4, 30), {"success": 2, "failed": 1}),
        DailyOutcome(date(2024, 5, 1), {}),
    ]
    spec = daily_strip(days)

    assert spec["encoding"]["x"]["scale"]["domain"] == ["04-30", "05-01"]
    assert spec["data"]["values"] == [
        {"day": "04-30", "state": "failed", "runs": 1},
        {"day": "04-30", "state": "success", "runs": 2},
    ]
    assert spec["encoding"]["color"]["scale"] == {
        "domain": ["success", "failed"],
        "range": ["#2e7d32", "#c62828"],
    }


def test_states_get_a_coloured_dot() -> None:
    assert run_state_icon(RunState.FAILED) == "🔴 failed"
    assert run_state_icon(TaskState.RETRYING) == "🟡 retrying"
    assert run_state_icon(None) == ""
