"""Missed and overdue runs, driven by an injected "now" (and one short real-time check)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from runner.events import RunMissed, RunOverdue
from runner.job_health import LATE
from runner.model import Job, Task
from runner.scheduling.expectations import (
    MAX_MISSED_PER_CHECK,
    check_expectations,
    job_status,
    previous_fire_times,
)
from runner.store.store import Store
from runner.wrap.recorder import record
from runner.wrap.report import JobSpec, RunReport, SkipReport, new_report_id
from tests.runner.wrap.conftest import finished_report, make_wrap
from tests.storesql import sql

T0 = datetime(2027, 3, 1, 12, 0, 0, tzinfo=UTC)
EVERY_SECOND = "*/1 * * * * *"  # croniter's sixth field: seconds


def register(store: Store, job: str, schedule: str, *, grace: float, at: datetime = T0) -> None:
    """The job as `wrap --schedule` would declare it at ``at``, with no run yet."""
    with sql(store).transaction():
        from runner.wrap.recorder import register_job

        register_job(
            store.spine_connection(), JobSpec(job, schedule=schedule, grace=grace), at.timestamp()
        )


def start(store: Store, spec: JobSpec, at: datetime) -> int:
    """A wrapped run of the job that started at ``at`` and is still running."""
    report = RunReport(new_report_id(), spec, at.timestamp())
    report.start_attempt(at.timestamp())
    run_id = record(store.spine_connection(), report)
    assert run_id is not None
    return run_id


def missed_at(events: list[object]) -> list[str]:
    """The expected times of the RunMissed events, as ISO 8601 text."""
    return [
        e.expected_at.isoformat()
        for e in events
        if isinstance(e, RunMissed) and e.expected_at is not None
    ]


def test_previous_fire_times_include_the_end_and_exclude_the_start() -> None:
    fires = previous_fire_times("*/10 * * * *", "UTC", T0, T0 + timedelta(minutes=30))

    assert fires == [T0 + timedelta(minutes=m) for m in (10, 20, 30)]


def test_previous_fire_times_follow_the_timezone_and_keep_the_newest_when_limited() -> None:
    fires = previous_fire_times("0 2 * * *", "Europe/Berlin", T0 - timedelta(days=5), T0, limit=2)

    assert fires == [
        datetime(2027, 2, 28, 1, 0, tzinfo=UTC),
        datetime(2027, 3, 1, 1, 0, tzinfo=UTC),
    ]


def test_a_fire_time_past_its_grace_with_no_start_is_reported_missed_once(store: Store) -> None:
    register(store, "heartbeat", EVERY_SECOND, grace=2.0)

    assert check_expectations(store, T0 + timedelta(seconds=2.5)) == []  # 12:00:00.5 in grace
    first = check_expectations(store, T0 + timedelta(seconds=3.5))
    again = check_expectations(store, T0 + timedelta(seconds=3.5))
    later = check_expectations(store, T0 + timedelta(seconds=4.5))

    assert missed_at(first) == ["2027-03-01T12:00:01+00:00"]
    assert again == []
    assert missed_at(later) == ["2027-03-01T12:00:02+00:00"]
    assert [e.type for e in store.events_after(0)] == ["run_missed", "run_missed"]


def test_a_run_started_near_its_fire_time_keeps_it(store: Store) -> None:
    spec = JobSpec("kept", schedule=EVERY_SECOND, grace=2.0)
    register(store, "kept", EVERY_SECOND, grace=2.0)
    start(store, spec, T0 + timedelta(seconds=1, milliseconds=40))  # cron + wrap's start-up
    start(store, spec, T0 + timedelta(seconds=1, milliseconds=990))  # a little early

    events = check_expectations(store, T0 + timedelta(seconds=4.5))

    assert missed_at(events) == []  # 12:00:01 and :02 kept; :03 still in its grace


def test_fire_times_after_the_last_start_are_missed(store: Store) -> None:
    register(store, "stopped", "*/10 * * * *", grace=60.0)
    record(
        store.spine_connection(),
        finished_report(
            "stopped",
            at=(T0 + timedelta(minutes=10)).timestamp(),
            spec=JobSpec("stopped", schedule="*/10 * * * *", grace=60.0),
        ),
    )

    events = check_expectations(store, T0 + timedelta(minutes=40, seconds=30))

    # 12:10 kept by the run; 12:40 still within its grace
    assert missed_at(events) == ["2027-03-01T12:20:00+00:00", "2027-03-01T12:30:00+00:00"]


def test_an_overlap_skipped_start_keeps_its_fire_time(store: Store) -> None:
    register(store, "busy", EVERY_SECOND, grace=2.0)
    skip_at = (T0 + timedelta(seconds=1)).timestamp()
    record(
        store.spine_connection(),
        SkipReport(
            new_report_id(), JobSpec("busy", schedule=EVERY_SECOND, grace=2.0), skip_at, "overlap"
        ),
    )

    assert missed_at(check_expectations(store, T0 + timedelta(seconds=3.5))) == []


def test_fire_times_before_the_job_appeared_do_not_count(store: Store) -> None:
    register(store, "new", "0 * * * *", grace=60.0, at=T0 + timedelta(minutes=30))

    assert check_expectations(store, T0 + timedelta(minutes=59)) == []
    assert missed_at(check_expectations(store, T0 + timedelta(minutes=61, seconds=1))) == [
        "2027-03-01T13:00:00+00:00"
    ]


def test_a_long_outage_reports_only_the_newest_fire_times(store: Store) -> None:
    register(store, "outage", EVERY_SECOND, grace=1.0)

    events = check_expectations(store, T0 + timedelta(minutes=10))

    assert len(events) == MAX_MISSED_PER_CHECK
    assert missed_at(events)[-1] == "2027-03-01T12:09:59+00:00"
    assert check_expectations(store, T0 + timedelta(minutes=10)) == []


def test_a_paused_job_is_not_checked(store: Store) -> None:
    register(store, "paused", EVERY_SECOND, grace=1.0)
    store.set_paused("paused", True)

    assert check_expectations(store, T0 + timedelta(minutes=1)) == []


def test_a_run_past_its_expected_duration_is_reported_overdue_once(store: Store) -> None:
    run_id = start(store, JobSpec("slow", expected_duration=30.0), T0)

    assert check_expectations(store, T0 + timedelta(seconds=29)) == []
    first = check_expectations(store, T0 + timedelta(seconds=31))
    again = check_expectations(store, T0 + timedelta(seconds=90))

    (overdue,) = first
    assert isinstance(overdue, RunOverdue)
    assert (overdue.run_id, overdue.expected_seconds, overdue.id > 0) == (run_id, 30.0, True)
    assert again == []


def test_two_checkers_at_once_report_a_fire_time_once(store: Store, db_url: str) -> None:
    register(store, "shared", EVERY_SECOND, grace=2.0)
    now = T0 + timedelta(seconds=3.5)
    with Store.open(db_url) as other:
        found = check_expectations(store, now) + check_expectations(other, now)

    assert missed_at(found) == ["2027-03-01T12:00:01+00:00"]


def test_job_status_is_late_once_a_fire_time_is_past_its_grace(store: Store) -> None:
    register(store, "status", "*/10 * * * *", grace=60.0)
    record(
        store.spine_connection(),
        finished_report(
            "status", at=T0.timestamp(), spec=JobSpec("status", schedule="*/10 * * * *", grace=60.0)
        ),
    )

    assert job_status(store, "status", T0 + timedelta(minutes=5)) is None
    assert job_status(store, "status", T0 + timedelta(minutes=10, seconds=30)) is None
    assert job_status(store, "status", T0 + timedelta(minutes=11, seconds=1)) == LATE
    start(
        store,
        JobSpec("status", schedule="*/10 * * * *", grace=60.0),
        T0 + timedelta(minutes=11, seconds=2),
    )
    assert job_status(store, "status", T0 + timedelta(minutes=11, seconds=3)) is None
    assert job_status(store, "unknown", T0) is None


def test_job_status_is_late_for_a_run_past_its_expected_duration(store: Store) -> None:
    start(store, JobSpec("overrun", expected_duration=10.0), T0)

    assert job_status(store, "overrun", T0 + timedelta(seconds=9)) is None
    assert job_status(store, "overrun", T0 + timedelta(seconds=11)) == LATE


def test_jobs_from_definitions_carry_their_expectations(store: Store) -> None:
    job = Job(
        "defined",
        {"defined": Task("defined", command=("true",))},
        schedule="*/10 * * * *",
        grace=120.0,
        expected_duration=60.0,
        timeout=600.0,
    )
    store.sync_jobs([job], T0)

    row = sql(store).rows("SELECT grace, expected_duration, timeout, created_at FROM jobs")[0]
    assert (row["grace"], row["expected_duration"], row["timeout"]) == (120.0, 60.0, 600.0)
    assert row["created_at"] == T0.timestamp()
    events = check_expectations(store, T0 + timedelta(minutes=12, seconds=1))
    assert missed_at(events) == ["2027-03-01T12:10:00+00:00"]


def test_a_wrapped_job_that_stops_running_is_reported_missed_in_real_time(
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    wrap = make_wrap(tmp_path, home)
    result = wrap("--job", "tick", "--schedule", EVERY_SECOND, "--grace", "0.5s", "--", "true")
    assert result.returncode == 0, result.stderr

    time.sleep(2.2)  # no wrap runs: at least one fire time passes its grace

    with Store.open(f"sqlite:///{home / 'runwatch.db'}") as store:
        (run,) = store.list_runs()
        events = check_expectations(store, datetime.fromtimestamp(time.time(), UTC))
        status = job_status(store, "tick", datetime.fromtimestamp(time.time(), UTC))
    assert run.started_at is not None
    missed = [datetime.fromisoformat(at) for at in missed_at(events)]
    assert missed
    assert all(at > run.started_at + timedelta(seconds=0.5) for at in missed)
    assert status == LATE
