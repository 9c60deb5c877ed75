"""The lean recorder against the store: what it writes reads back exactly like Store's runs."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

from runner import processes
from runner.events import RunSkipped
from runner.model import Job, RunState, Task, TaskState, Trigger
from runner.store.records import from_epoch
from runner.store.store import Store
from runner.wrap.recorder import record
from runner.wrap.report import FAILED, JobSpec, RunReport, SkipReport, new_report_id
from tests.runner.wrap.conftest import finished_report
from tests.storesql import sql


def stored_events(store: Store) -> list[tuple[str, str | None, int | None, dict[str, object]]]:
    return [(e.type, e.task, e.attempt, e.payload()) for e in store.events_after(0)]


def raw_payloads(store: Store) -> list[dict[str, object]]:
    return [
        json.loads(r["payload"]) for r in sql(store).rows("SELECT payload FROM events ORDER BY id")
    ]


def test_a_recorded_run_reads_back_through_the_store_like_any_run(store: Store) -> None:
    report = finished_report(exit_codes=(0,))

    run_id = record(store.spine_connection(), report, log_dir="/logs")

    assert run_id is not None
    run = store.get_run(run_id)
    assert run.job == "nightly"
    assert run.trigger is Trigger.WRAP
    assert run.state is RunState.SUCCESS
    assert run.logical_time == from_epoch(report.logical_time)
    assert run.duration_seconds == 1.5
    assert store.task_runs(run_id)["nightly"].state is TaskState.SUCCESS
    (attempt,) = store.attempts(run_id)
    assert (attempt.number, attempt.state, attempt.exit_code) == (1, TaskState.SUCCESS, 0)
    assert attempt.stdout_path == f"/logs/nightly/{run_id}/nightly.1.out"
    assert attempt.supervisor == "host:1:1"


def test_the_events_and_payloads_match_what_store_writes_for_a_one_task_run(
    store: Store,
) -> None:
    at = datetime(2027, 1, 15, 2, 0, tzinfo=UTC)
    job = Job("native", {"native": Task("native", command=("false",))})
    store.sync_jobs([job], at)
    run = store.create_run(job, at, Trigger.WRAP, at)
    assert run is not None
    store.mark_run_started(run, at)
    first = store.start_attempt(run, "native", at)
    assert first is not None
    store.finish_attempt(first, TaskState.FAILED, at, exit_code=1, error="x", will_retry=True)
    second = store.start_attempt(run, "native", at)
    assert second is not None
    store.finish_attempt(second, TaskState.FAILED, at, exit_code=1, error="x")
    store.mark_run_finished(run, RunState.FAILED, at, reason="failed", failed_tasks=["native"])
    native = stored_events(store)

    record(store.spine_connection(), finished_report("wrapped", exit_codes=(1, 1)))
    wrapped = stored_events(store)[len(native) :]

    assert [e[0] for e in wrapped] == [e[0] for e in native]
    assert [sorted(e[3]) for e in wrapped] == [sorted(e[3]) for e in native]
    assert [(e[1] is None, e[2]) for e in wrapped] == [(e[1] is None, e[2]) for e in native]
    # what is stored is exactly what the typed event would store
    assert raw_payloads(store)[len(native) :] == [e[3] for e in wrapped]


def test_recording_the_same_report_twice_changes_nothing(store: Store) -> None:
    report = finished_report(exit_codes=(2, 0))
    first = record(store.spine_connection(), report)
    events = store.last_event_id()

    again = record(store.spine_connection(), report)

    assert again == first
    assert store.last_event_id() == events
    assert len(store.list_runs()) == 1
    assert len(store.attempts(first or 0)) == 2


def test_a_report_recorded_at_each_step_ends_as_one_recorded_at_once(store: Store) -> None:
    report = RunReport(new_report_id(), JobSpec("steps"), 1_800_000_000.0)
    attempt = report.start_attempt(1_800_000_000.0)
    run_id = record(store.spine_connection(), report)
    assert run_id is not None
    assert store.get_run(run_id).state is RunState.RUNNING
    assert store.task_runs(run_id)["steps"].state is TaskState.RUNNING

    attempt.finish(FAILED, 1_800_000_001.0, exit_code=1, will_retry=True)
    record(store.spine_connection(), report)
    assert store.task_runs(run_id)["steps"].state is TaskState.RETRYING

    report.start_attempt(1_800_000_011.0).finish("success", 1_800_000_012.0, exit_code=0)
    report.finish("success", 1_800_000_012.0)
    record(store.spine_connection(), report)

    types = [e.type for e in store.events_after(0)]
    assert types == [
        "run_queued",
        "run_started",
        "attempt_started",
        "attempt_failed",
        "attempt_started",
        "attempt_succeeded",
        "run_succeeded",
    ]
    assert store.get_run(run_id).duration_seconds == 12.0


def test_a_skip_report_appends_one_run_skipped_event_however_often_recorded(
    store: Store,
) -> None:
    skip = SkipReport(new_report_id(), JobSpec("busy"), 1_800_000_000.0, "still running")

    record(store.spine_connection(), skip)
    record(store.spine_connection(), skip)

    (event,) = store.events_after(0)
    assert isinstance(event, RunSkipped)
    assert event.reason == "still running"
    assert event.at == from_epoch(1_800_000_000.0)


def test_the_job_row_takes_the_declared_schedule_and_expectations(store: Store) -> None:
    spec = JobSpec(
        "declared",
        schedule="*/5 * * * *",
        timezone="Europe/Berlin",
        grace=60.0,
        expected_duration=30.0,
        timeout=120.0,
        owner="ops",
        tags=("cron", "db"),
    )
    record(store.spine_connection(), finished_report("declared", spec=spec))

    job = store.get_job("declared")
    assert job is not None
    assert (job.schedule, job.timezone, job.owner, job.tags, job.source) == (
        "*/5 * * * *",
        "Europe/Berlin",
        "ops",
        ("cron", "db"),
        "wrap",
    )
    row = sql(store).rows("SELECT grace, expected_duration, timeout FROM jobs")[0]
    assert (row["grace"], row["expected_duration"], row["timeout"]) == (60.0, 30.0, 120.0)


def test_an_older_report_does_not_overwrite_a_newer_declaration(store: Store) -> None:
    newer = finished_report("job", at=1_800_000_100.0, spec=JobSpec("job", schedule="@daily"))
    older = finished_report("job", at=1_800_000_000.0, spec=JobSpec("job", schedule="@hourly"))

    record(store.spine_connection(), newer)
    record(store.spine_connection(), older)  # replayed late from a spool

    job = store.get_job("job")
    assert job is not None
    assert job.schedule == "@daily"
    assert len(store.list_runs(job="job")) == 2


def spine_rows(store: Store, job: str) -> dict[str, list[dict[str, object]]]:
    """The rows of ``job``'s runs in every spine table, ids and names replaced by
    placeholders so two jobs' rows compare column by column."""
    (run_id,) = [r.id for r in store.list_runs(job=job)]

    def same(value: object) -> object:
        if not isinstance(value, str):
            return value
        return re.sub(rf"\b{job}\b", "JOB", value).replace(f"/{run_id}/", "/RUN/")

    def rows(table: str, key: str, value: object) -> list[dict[str, object]]:
        found = sql(store).rows(f"SELECT * FROM {table} WHERE {key} = :v ORDER BY 1", {"v": value})
        return [
            {k: same(v) for k, v in r.items() if k not in ("id", "run_id", "created_at")}
            for r in found
        ]

    return {
        "jobs": rows("jobs", "name", job),
        "runs": rows("runs", "id", run_id),
        "task_runs": rows("task_runs", "run_id", run_id),
        "attempts": rows("attempts", "run_id", run_id),
        "events": rows("events", "run_id", run_id),
    }


def test_wrap_and_the_store_write_the_same_rows_column_by_column(store: Store) -> None:
    start = 1_800_000_000.0
    at = from_epoch(start)
    job = Job("native", {"native": Task("native", command=("false",))}, source="wrap")
    store.sync_jobs([job], at)
    run = store.create_run(job, at, Trigger.WRAP, at, claim=True)
    assert run is not None
    store.mark_run_started(run, at)
    for number, moment in enumerate((start, start + 1.5), start=1):
        attempt = store.start_attempt(run, "native", from_epoch(moment), log_dir=Path("/logs"))
        assert attempt is not None
        store.finish_attempt(
            attempt,
            TaskState.FAILED,
            from_epoch(moment + 1.5),
            exit_code=1,
            error=f"boom {number}",
            reason="exit code 1",
            will_retry=number == 1,
        )
    store.mark_run_finished(
        run,
        RunState.FAILED,
        from_epoch(start + 3.0),
        reason="failed: native",
        failed_tasks=["native"],
    )
    report = finished_report("wrapped", at=start, exit_codes=(1, 1))
    report.supervisor = processes.current()

    record(store.spine_connection(), report, log_dir="/logs")

    native, wrapped = spine_rows(store, "native"), spine_rows(store, "wrapped")
    for table in native:
        assert wrapped[table] == native[table], table
