"""Job-to-job dependencies: one run per period once every upstream job succeeded, on
SQLite and PostgreSQL, with two schedulers racing, and run_missed past the grace."""

from __future__ import annotations

import queue
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from runner.engine.engine import Engine
from runner.engine.executor import Message
from runner.events import RunMissed
from runner.executors.local.executor import LocalExecutor
from runner.model import Job, JobDependency, Period, RunState, Task, Trigger
from runner.processes import current
from runner.scheduling.after import fire_after, period_of
from runner.scheduling.expectations import check_expectations
from runner.scheduling.scheduler import Scheduler
from runner.store.store import Store

T0 = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
BERLIN = "Europe/Berlin"


def a_job(name: str, **options: object) -> Job:
    return Job(name=name, tasks={"t": Task("t", command="true")}, **options)  # type: ignore[arg-type]


def report(period: Period = Period.DAY) -> Job:
    return a_job(
        "report",
        depends_on=JobDependency(("ingest", "enrich"), period),
        schedule="0 0 * * *",
        timezone=BERLIN,
        grace=3600.0,
    )


def succeed(
    store: Store, job: Job, logical_time: datetime, state: RunState = RunState.SUCCESS
) -> None:
    run = store.create_run(job, logical_time, Trigger.SCHEDULE, logical_time)
    assert run is not None
    assert store.mark_run_started(run, logical_time)
    store.mark_run_finished(store.get_run(run.id), state, logical_time, supervised_by=current())


def jobs_in(store: Store) -> list[Job]:
    jobs = [a_job("ingest"), a_job("enrich"), report()]
    store.sync_jobs(jobs, T0 - timedelta(days=2))
    return jobs


def test_a_run_is_created_once_every_upstream_job_succeeded_in_the_period(store: Store) -> None:
    ingest, enrich, dependent = jobs_in(store)
    succeed(store, ingest, T0 - timedelta(hours=7))  # 03:30 Berlin: today
    assert fire_after(store, [dependent], T0, set()) == []
    succeed(store, enrich, T0 - timedelta(days=1))  # yesterday's does not count today
    assert fire_after(store, [dependent], T0, set()) == []
    succeed(store, enrich, T0 - timedelta(hours=1), RunState.FAILED)
    assert fire_after(store, [dependent], T0, set()) == []
    succeed(store, enrich, T0)
    (run,) = fire_after(store, [dependent], T0, set())
    assert run.logical_time == datetime(2026, 12, 3, tzinfo=ZoneInfo(BERLIN))
    assert run.trigger is Trigger.SCHEDULE
    assert fire_after(store, [dependent], T0 + timedelta(minutes=5), set()) == []
    assert fire_after(store, [dependent], T0, {"report"}) == []


def test_a_late_upstream_still_gets_the_previous_periods_run(store: Store) -> None:
    ingest, enrich, dependent = jobs_in(store)
    yesterday = T0 - timedelta(days=1)
    succeed(store, ingest, yesterday)
    succeed(store, enrich, yesterday)
    (run,) = fire_after(store, [dependent], T0, set())
    assert run.logical_time == datetime(2026, 12, 2, tzinfo=ZoneInfo(BERLIN))


def test_two_schedulers_racing_create_one_run_per_period(store: Store, db_url: str) -> None:
    ingest, enrich, dependent = jobs_in(store)
    succeed(store, ingest, T0)
    succeed(store, enrich, T0)
    other = Store.open(db_url)
    created: list[int] = []
    start = threading.Barrier(2)

    def scheduler(own: Store) -> None:
        start.wait()
        for tick in range(5):
            created.extend(
                r.id for r in fire_after(own, [dependent], T0 + timedelta(seconds=tick), set())
            )

    try:
        threads = [threading.Thread(target=scheduler, args=(s,)) for s in (store, other)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        other.close()
    assert len(created) == 1
    assert [r.logical_time for r in store.list_runs(job="report", limit=10)] == [
        datetime(2026, 12, 3, tzinfo=ZoneInfo(BERLIN))
    ]


def test_a_missing_upstream_raises_run_missed_past_the_grace(store: Store) -> None:
    jobs_in(store)
    midnight = datetime(2026, 12, 4, tzinfo=ZoneInfo(BERLIN))
    assert [e for e in check_expectations(store, midnight + timedelta(minutes=59))] == []
    missed = [e for e in check_expectations(store, midnight + timedelta(hours=1, minutes=1))]
    assert [(type(e), e.job) for e in missed] == [(RunMissed, "report")]


def test_periods_are_local_days_and_hours() -> None:
    spring = datetime(2026, 3, 29, 12, tzinfo=UTC)  # Berlin's 23-hour day
    start, end = period_of(Period.DAY, BERLIN, spring)
    assert (start.isoformat(), end.isoformat()) == (
        "2026-03-29T00:00:00+01:00",
        "2026-03-30T00:00:00+02:00",
    )
    start, end = period_of(Period.HOUR, BERLIN, spring)
    assert (end - start) == timedelta(hours=1)
    assert start.isoformat() == "2026-03-29T14:00:00+02:00"


def test_the_scheduler_starts_the_dependent_job_and_never_fires_it_by_the_clock(
    tmp_path: Path,
) -> None:
    store = Store.open(f"sqlite:///{tmp_path}/runwatch.db")
    messages: queue.SimpleQueue[Message] = queue.SimpleQueue()
    engine = Engine(store, LocalExecutor(messages), messages, log_dir=tmp_path / "logs")
    try:
        ingest, enrich, dependent = jobs_in(store)
        scheduler = Scheduler(
            store, engine, {j.name: j for j in (ingest, enrich, dependent)}, now=T0
        )
        assert "report" not in scheduler.next_fire_times()
        succeed(store, ingest, T0)
        scheduler.tick(T0 + timedelta(seconds=2))
        assert store.list_runs(job="report", limit=10) == []
        succeed(store, enrich, T0)
        scheduler.tick(T0 + timedelta(seconds=4))
        engine.run_until_done()
        (run,) = store.list_runs(job="report", limit=10)
        assert run.state is RunState.SUCCESS
    finally:
        engine.close()
        store.close()
