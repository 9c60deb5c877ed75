"""The dashboard's queries against a seeded store, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Connection, insert
from sqlalchemy.exc import DBAPIError

from dashboards.database import connect_readonly
from dashboards.health import job_overview
from dashboards.timezones import day_bounds, start_of_day
from runner.model import Job, RunState, Task, TaskState, Trigger
from runner.store import dashboard_reads as queries
from runner.store.alerts import AlertState
from runner.store.dashboard_reads.results import Health, RunFilter
from runner.store.schema import jobs
from runner.store.store import Store
from tests.dashboards.seed import NOW, TRACE_ID, WEBHOOK, Seeded

WEEK = timedelta(days=7)


def test_the_overview_lists_failing_jobs_first_then_late_ones(
    conn: Connection, seeded: Seeded
) -> None:
    rows = job_overview(conn, NOW, WEEK)

    assert [(r.name, r.health) for r in rows] == [
        ("billing", Health.FAILING),
        ("reports", Health.LATE),
        ("streaming", Health.RUNNING),
        ("adhoc-export", Health.OK),
        ("nightly-etl", Health.OK),
        ("cleanup", Health.PAUSED),
    ]
    billing, reports = rows[0], rows[1]
    assert billing.since == seeded.failing_since
    assert billing.why is not None
    assert "task charge failed" in billing.why
    assert "charge (attempt 1): KeyError: 'amount'" in billing.why
    assert billing.last_run_id == seeded.billing_runs[-1]
    assert billing.last_state is RunState.FAILED
    assert billing.firing_alerts == 1
    assert (billing.owner, billing.tags) == ("finance", ("hourly", "money"))
    assert billing.next_run_at == datetime(2024, 5, 1, 13, 0, tzinfo=UTC)
    assert reports.since == datetime(2024, 5, 1, 10, 15, tzinfo=UTC)
    assert rows[-1].next_run_at is None  # paused


def test_the_overview_counts_outcomes_and_p95_over_the_window(conn: Connection) -> None:
    billing = job_overview(conn, NOW, WEEK)[0]

    # three successes of 121 s (2 s to start, 30 + 90 s of tasks), two failures of 91 s
    assert (billing.window_runs, billing.window_failures) == (5, 2)
    assert billing.success_rate == pytest.approx(0.6)
    assert billing.p95_seconds == pytest.approx(121.0)
    assert billing.last_success_at == datetime(2024, 5, 1, 9, 2, 2, tzinfo=UTC)

    recent = job_overview(conn, NOW, timedelta(hours=2, minutes=30))[0]
    assert (recent.window_runs, recent.success_rate, recent.p95_seconds) == (2, 0.0, 91.0)


def test_the_headline_counts_runs_and_failures_since_midnight_where_the_viewer_is(
    conn: Connection,
) -> None:
    utc = queries.headline(conn, NOW, start_of_day(NOW, "UTC"))
    berlin = queries.headline(conn, NOW, start_of_day(NOW, "Europe/Berlin"))

    assert (utc.runs_today, utc.failed_today, utc.running, utc.firing_alerts) == (10, 2, 1, 1)
    # last night's 01:30 run in Berlin was 23:30 UTC yesterday
    assert berlin.runs_today == 11
    assert utc.heartbeat_at == NOW - timedelta(seconds=30)
    assert utc.heartbeat_state == "running"


def test_runs_are_paginated_newest_first_in_sql(conn: Connection) -> None:
    first = queries.runs_page(conn, RunFilter(), 1, 5)
    last = queries.runs_page(conn, RunFilter(), 3, 5)

    assert (first.total, first.pages, len(first.items), len(last.items)) == (14, 3, 5, 4)
    ids = [r.id for r in first.items] + [
        r.id for r in queries.runs_page(conn, RunFilter(), 2, 5).items
    ]
    assert ids == sorted(ids, reverse=True)
    assert queries.runs_page(conn, RunFilter(), 99, 5).number == 3  # clamped to the last page


@pytest.mark.parametrize(
    ("filters", "total"),
    [
        (RunFilter(states=(RunState.FAILED,)), 2),
        (RunFilter(states=(RunState.RUNNING, RunState.FAILED)), 3),
        (RunFilter(owner="finance"), 5),
        (RunFilter(tag="hourly"), 8),
        (RunFilter(tag="nightly"), 3),
        (RunFilter(tag="hour%"), 0),  # LIKE wildcards in a tag are literal
        (RunFilter(jobs=("reports", "cleanup")), 4),
        (RunFilter(since=NOW - timedelta(minutes=90)), 3),
        (RunFilter(until=NOW - timedelta(hours=4, minutes=30)), 6),
        (RunFilter(owner="data", states=(RunState.SUCCESS,), since=NOW - timedelta(hours=6)), 4),
    ],
)
def test_runs_can_be_filtered_by_job_status_owner_tag_and_time(
    conn: Connection, filters: RunFilter, total: int
) -> None:
    page = queries.runs_page(conn, filters, 1, 50)

    assert page.total == total == len(page.items)


def test_the_run_detail_of_a_retried_task_shows_both_attempts(
    conn: Connection, seeded: Seeded
) -> None:
    detail = queries.run_detail(conn, seeded.retried_run)

    assert detail is not None
    transform = [a for a in detail.attempts if a.task == "transform"]
    assert [(a.number, a.state, a.exit_code) for a in transform] == [
        (1, TaskState.FAILED, 3),
        (2, TaskState.SUCCESS, 0),
    ]
    assert transform[0].error is not None
    assert transform[0].error.endswith("ConnectionError: db timeout")
    assert transform[0].duration_seconds == pytest.approx(20.0)
    assert [a.task for a in detail.attempts] == ["extract", "transform", "transform", "load"]
    assert {t.task: (t.state, t.attempts) for t in detail.tasks}["transform"] == (
        TaskState.SUCCESS,
        2,
    )
    assert detail.run.state is RunState.SUCCESS
    assert detail.trace_id == TRACE_ID
    assert detail.params == {"day": "2024-04-30", "api_token": "(hidden)"}
    assert all(a.stdout_path for a in detail.attempts)


def test_there_is_no_detail_for_an_unknown_run(conn: Connection) -> None:
    assert queries.run_detail(conn, 10**9) is None


def test_the_job_detail_has_percentiles_daily_outcomes_and_retries_per_task(
    conn: Connection,
) -> None:
    days = day_bounds(NOW, "Europe/Berlin", 3)
    detail = queries.job_detail(conn, "nightly-etl", NOW - WEEK, days)

    assert detail is not None
    assert [(d.day.isoformat(), d.counts) for d in detail.daily] == [
        ("2024-04-29", {"success": 1}),
        ("2024-04-30", {"success": 1}),
        ("2024-05-01", {"success": 1}),
    ]
    assert [p.run_id for p in detail.durations] == sorted(p.run_id for p in detail.durations)
    assert len(detail.durations) == 3
    # started 1 s after the fire time, tasks from 2 s: 1 + 60 + 120 + 45 s, and the
    # retried night adds 20 + 10 s
    assert (detail.p50_seconds, detail.p95_seconds) == pytest.approx((226.0, 256.0))
    tasks = {t.task: (t.attempts, t.retries, t.failures) for t in detail.tasks}
    assert tasks == {"extract": (3, 0, 0), "transform": (4, 1, 1), "load": (3, 0, 0)}
    assert (detail.schedule, detail.timezone, detail.owner) == (
        "30 1 * * *",
        "Europe/Berlin",
        "data",
    )


def test_days_are_the_viewers_calendar_days(conn: Connection) -> None:
    detail = queries.job_detail(conn, "nightly-etl", NOW - WEEK, day_bounds(NOW, "UTC", 4))

    assert detail is not None
    assert [d.day.isoformat() for d in detail.daily if d.counts] == [
        "2024-04-28",
        "2024-04-29",
        "2024-04-30",
    ]


def test_there_is_no_detail_for_an_unknown_job(conn: Connection) -> None:
    assert queries.job_detail(conn, "nope", NOW - WEEK, day_bounds(NOW, "UTC", 1)) is None


def test_alerts_come_with_their_notifications_and_the_active_silences(conn: Connection) -> None:
    view = queries.alerts_view(conn, NOW, NOW - WEEK)

    assert [(a.job, a.alertname, a.state) for a in view.firing] == [
        ("billing", "JobFailed", AlertState.FIRING)
    ]
    assert [(a.job, a.state) for a in view.resolved] == [("nightly-etl", AlertState.RESOLVED)]
    firing = view.firing[0]
    assert firing.summary == "billing failed twice in a row"
    assert [(n.receiver, n.status) for n in firing.notifications] == [
        ("pagerduty-oncall", "failed"),
        ("slack-oncall", "sent"),
    ]
    error = firing.notifications[0].last_error
    assert error is not None
    assert "hooks.slack.com" in error
    assert "XXXXSECRET" not in error
    assert WEBHOOK not in error
    assert [s.matchers for s in view.silences] == [('job="cleanup"',)]


def test_durations_percentiles_are_nearest_rank(store: Store, db_url: str) -> None:
    job = Job(name="p", tasks={"t": Task("t", command=("true",))})
    for seconds in range(1, 21):
        logical = NOW - timedelta(hours=seconds)
        run = store.create_run(job, logical, Trigger.SCHEDULE, logical)
        assert run is not None
        assert store.mark_run_started(run, logical)
        store.mark_run_finished(run, RunState.SUCCESS, logical + timedelta(seconds=seconds))
    engine = connect_readonly(db_url)
    try:
        with engine.connect() as conn:
            found = [
                queries.duration_percentiles(conn, [("p", 20)], p, NOW - timedelta(days=2))[0]
                for p in (50, 95, 100)
            ]
            stats = queries.window_stats(conn, NOW - timedelta(days=2))["p"]
    finally:
        engine.dispose()

    assert found == [10.0, 19.0, 20.0]
    assert (stats["runs"], stats["ok"], stats["p95"]) == (20, 20, 19.0)


def test_a_job_known_only_from_its_runs_is_listed(store: Store, db_url: str) -> None:
    job = Job(name="wrapped", tasks={"cmd": Task("cmd", command=("true",))})
    run = store.create_run(job, NOW - timedelta(hours=1), Trigger.WRAP, NOW - timedelta(hours=1))
    assert run is not None
    engine = connect_readonly(db_url)
    try:
        with engine.connect() as conn:
            rows = job_overview(conn, NOW, WEEK)
    finally:
        engine.dispose()

    assert [(r.name, r.health, r.owner) for r in rows] == [("wrapped", Health.RUNNING, None)]


def test_the_dashboard_connection_cannot_write(conn: Connection) -> None:
    with pytest.raises(DBAPIError, match=r"(?i)read.only|readonly"):
        conn.execute(
            insert(jobs).values(name="x", tags="[]", timezone="UTC", paused=0, updated_at=0.0)
        )
