"""The store's contract, run against every backend (SQLite file and PostgreSQL schema)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from runner import processes
from runner.errors import NotFoundError, StoreError
from runner.events import (
    AttemptCancelled,
    AttemptFailed,
    AttemptStarted,
    AttemptSucceeded,
    AttemptTimedOut,
    Event,
    RunCancelled,
    RunFailed,
    RunMissed,
    RunQueued,
    RunStarted,
    RunSucceeded,
    TaskSkipped,
    TaskUpstreamFailed,
)
from runner.model import Job, RunState, Task, TaskState, Trigger
from runner.store.records import RunRecord, from_epoch
from runner.store.store import Store
from tests.storesql import sql

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def make_job(name: str = "etl", tasks: tuple[str, ...] = ("extract", "load")) -> Job:
    return Job(
        name=name,
        tasks={t: Task(t, command=("true",)) for t in tasks},
        schedule="0 * * * *",
        owner="data",
        tags=("nightly",),
    )


def new_run(
    store: Store,
    job: Job | None = None,
    logical_time: datetime = T0,
    trigger: Trigger = Trigger.SCHEDULE,
) -> RunRecord:
    run = store.create_run(job or make_job(), logical_time, trigger, logical_time)
    assert run is not None
    return run


def started_run(store: Store, job: Job | None = None, logical_time: datetime = T0) -> RunRecord:
    run = new_run(store, job, logical_time)
    assert store.mark_run_started(run, logical_time + timedelta(seconds=1))
    return store.get_run(run.id)


def types_after(store: Store, cursor: int) -> list[type[Event]]:
    return [type(e) for e in store.events_after(cursor)]


# -- runs -------------------------------------------------------------------------


def test_create_run_makes_a_queued_run_with_pending_tasks(store: Store) -> None:
    run = store.create_run(make_job(), T0, Trigger.SCHEDULE, at(5), {"day": "2024-05-01"})

    assert run is not None
    assert (run.job, run.state, run.trigger) == ("etl", RunState.QUEUED, Trigger.SCHEDULE)
    assert (run.logical_time, run.queued_at, run.params) == (T0, at(5), {"day": "2024-05-01"})
    assert run.started_at is None
    assert run.finished_at is None
    assert run.supervisor is None
    tasks = store.task_runs(run.id)
    assert {t: (r.state, r.attempts) for t, r in tasks.items()} == {
        "extract": (TaskState.PENDING, 0),
        "load": (TaskState.PENDING, 0),
    }
    [event] = store.events_after(0)
    assert isinstance(event, RunQueued)
    assert (event.job, event.run_id, event.at) == ("etl", run.id, at(5))
    assert (event.logical_time, event.trigger) == (T0, Trigger.SCHEDULE)


def test_create_run_is_unique_per_job_and_logical_time(store: Store) -> None:
    job = make_job()
    first = new_run(store, job)
    cursor = store.last_event_id()

    assert store.create_run(job, T0, Trigger.MANUAL, at(60)) is None
    assert store.events_after(cursor) == []
    assert [r.id for r in store.list_runs()] == [first.id]
    assert store.find_run("etl", T0) == first


def test_runs_of_other_logical_times_and_jobs_are_new_runs(store: Store) -> None:
    first = new_run(store)
    later = new_run(store, logical_time=at(3600))
    other = new_run(store, make_job("other"))

    assert len({first.id, later.id, other.id}) == 3
    assert store.find_run("etl", at(3600)) == later
    assert store.find_run("etl", at(1)) is None


def test_get_run_of_an_unknown_id_raises_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError, match="no run with id 999"):
        store.get_run(999)


def test_mark_run_started_sets_running_under_this_process(store: Store) -> None:
    run = new_run(store)

    assert store.mark_run_started(run, at(90), trace_id="0af7651916cd43dd8448eb211c80319c")

    stored = store.get_run(run.id)
    assert (stored.state, stored.started_at) == (RunState.RUNNING, at(90))
    assert stored.supervisor == processes.current()
    assert stored.trace_id == "0af7651916cd43dd8448eb211c80319c"
    event = store.events_after(0)[-1]
    assert isinstance(event, RunStarted)
    assert (event.run_id, event.at, event.lag_seconds) == (run.id, at(90), 90.0)


def test_manual_runs_have_no_start_lag(store: Store) -> None:
    run = new_run(store, trigger=Trigger.MANUAL)
    store.mark_run_started(run, at(90))

    event = store.events_after(0)[-1]
    assert isinstance(event, RunStarted)
    assert event.lag_seconds is None


def test_a_run_is_claimed_by_one_start_only(store: Store) -> None:
    run = new_run(store)
    assert store.mark_run_started(run, at(1))
    cursor = store.last_event_id()

    assert not store.mark_run_started(run, at(2))

    assert store.events_after(cursor) == []
    assert store.get_run(run.id).started_at == at(1)


def test_a_run_claimed_by_another_live_process_is_not_started_here(store: Store) -> None:
    run = new_run(store)
    init = processes.identity_of(1)  # alive on every host, and not this process
    assert init is not None
    sql(store).execute("UPDATE runs SET supervisor = :s WHERE id = :id", {"s": init, "id": run.id})
    cursor = store.last_event_id()

    assert not store.mark_run_started(run, at(1))

    assert store.get_run(run.id).state is RunState.QUEUED
    assert store.events_after(cursor) == []


def test_a_run_created_claimed_is_started_by_its_creator(store: Store) -> None:
    run = store.create_run(make_job(), T0, Trigger.MANUAL, T0, claim=True)
    assert run is not None
    assert run.supervisor == processes.current()

    assert store.mark_run_started(run, at(1))


@pytest.mark.parametrize(
    ("state", "event_type"),
    [
        (RunState.SUCCESS, RunSucceeded),
        (RunState.FAILED, RunFailed),
        (RunState.CANCELLED, RunCancelled),
    ],
)
def test_mark_run_finished_records_state_duration_and_reason(
    store: Store, state: RunState, event_type: type[Event]
) -> None:
    queued = new_run(store)
    store.mark_run_started(queued, at(10))

    # The record from create_run has no start time: the stored one counts.
    assert store.mark_run_finished(queued, state, at(70.5), reason="because", failed_tasks=["load"])

    run = store.get_run(queued.id)
    assert (run.state, run.started_at, run.finished_at) == (state, at(10), at(70.5))
    assert run.duration_seconds == 60.5
    assert run.reason == "because"
    event = store.events_after(0)[-1]
    assert type(event) is event_type
    assert event.payload()["duration_seconds"] == 60.5
    if isinstance(event, RunFailed | RunCancelled):
        assert event.reason == "because"
    if isinstance(event, RunFailed):
        assert event.failed_tasks == ["load"]


def test_a_run_finishes_once(store: Store) -> None:
    run = started_run(store)
    assert store.mark_run_finished(run, RunState.SUCCESS, at(5))
    cursor = store.last_event_id()

    assert not store.mark_run_finished(run, RunState.FAILED, at(6), reason="late")

    assert store.events_after(cursor) == []
    assert store.get_run(run.id).state is RunState.SUCCESS


def test_a_queued_run_can_be_cancelled_with_zero_duration(store: Store) -> None:
    run = new_run(store)
    assert store.mark_run_finished(run, RunState.CANCELLED, at(5), reason="superseded")

    event = store.events_after(0)[-1]
    assert isinstance(event, RunCancelled)
    assert (event.duration_seconds, event.reason) == (0.0, "superseded")


def test_a_run_cannot_finish_in_an_unfinished_state(store: Store) -> None:
    run = started_run(store)
    cursor = store.last_event_id()

    for state in (RunState.QUEUED, RunState.RUNNING):
        with pytest.raises(ValueError, match="cannot finish"):
            store.mark_run_finished(run, state, at(5))

    assert store.get_run(run.id).state is RunState.RUNNING
    assert store.events_after(cursor) == []


def test_list_runs_is_newest_first_and_filters(store: Store) -> None:
    etl = [new_run(store, logical_time=at(i * 60)) for i in range(4)]
    other = new_run(store, make_job("other"))
    store.mark_run_started(etl[1], at(100))
    store.mark_run_finished(etl[1], RunState.FAILED, at(200))

    assert [r.id for r in store.list_runs()] == [other.id] + [r.id for r in reversed(etl)]
    assert [r.id for r in store.list_runs(job="etl", limit=2)] == [etl[3].id, etl[2].id]
    assert [r.id for r in store.list_runs(job="etl", before_id=etl[2].id)] == [
        etl[1].id,
        etl[0].id,
    ]
    assert [r.id for r in store.list_runs(state=RunState.FAILED)] == [etl[1].id]
    assert store.list_runs(job="other", state=RunState.FAILED) == []
    assert store.list_runs(job="nope") == []


# -- events -----------------------------------------------------------------------


def test_every_write_appends_its_typed_events_with_increasing_ids(store: Store) -> None:
    job = make_job(tasks=("extract", "load", "report", "notify"))
    run = new_run(store, job)
    store.mark_run_started(run, at(1))
    first = store.start_attempt(run, "extract", at(2))
    assert first is not None
    store.finish_attempt(first, TaskState.FAILED, at(3), exit_code=1, will_retry=True)
    second = store.start_attempt(run, "extract", at(4))
    assert second is not None
    store.finish_attempt(second, TaskState.SUCCESS, at(5), exit_code=0)
    load = store.start_attempt(run, "load", at(6))
    assert load is not None
    store.finish_attempt(load, TaskState.TIMED_OUT, at(7), signal=9)
    store.set_task_state(run, "report", TaskState.UPSTREAM_FAILED, at(8))
    store.set_task_state(run, "notify", TaskState.SKIPPED, at(8), reason="trigger rule")
    store.mark_run_finished(run, RunState.FAILED, at(9), failed_tasks=["load"])

    events = store.events_after(0)

    assert [type(e) for e in events] == [
        RunQueued,
        RunStarted,
        AttemptStarted,
        AttemptFailed,
        AttemptStarted,
        AttemptSucceeded,
        AttemptStarted,
        AttemptTimedOut,
        TaskUpstreamFailed,
        TaskSkipped,
        RunFailed,
    ]
    ids = [e.id for e in events]
    assert all(a < b for a, b in itertools.pairwise(ids))
    assert ids[-1] == store.last_event_id()
    assert all(e.job == "etl" and e.run_id == run.id for e in events)
    assert [(e.task, e.attempt) for e in events[2:6]] == [
        ("extract", 1),
        ("extract", 1),
        ("extract", 2),
        ("extract", 2),
    ]
    assert [type(e) for e in store.events_after(ids[7])] == [
        TaskUpstreamFailed,
        TaskSkipped,
        RunFailed,
    ]
    assert [e.id for e in store.events_after(ids[1], limit=2)] == ids[2:4]
    assert store.events_after(ids[-1]) == []


def test_events_round_trip_with_their_payload(store: Store) -> None:
    event = RunMissed(at=at(1.25), job="etl", expected_at=T0)

    event_id = store.append(event)

    [stored] = store.events_after(0)
    assert stored == RunMissed(id=event_id, at=at(1.25), job="etl", expected_at=T0)


def test_events_after_filters_by_job(store: Store) -> None:
    new_run(store, make_job("a"))
    other = new_run(store, make_job("b"))
    new_run(store, make_job("a"), logical_time=at(60))

    assert [e.run_id for e in store.events_after(0, job="b")] == [other.id]
    assert [e.job for e in store.events_after(0, job="a")] == ["a", "a"]
    assert store.last_event_id() == max(e.id for e in store.events_after(0))


def test_an_empty_log_has_last_event_id_zero(store: Store) -> None:
    assert store.last_event_id() == 0
    assert store.events_after(0) == []


# -- attempts ---------------------------------------------------------------------


def test_attempts_are_numbered_across_retries(store: Store) -> None:
    run = started_run(store)
    numbers = []
    for n in range(3):
        attempt = store.start_attempt(run, "extract", at(10 * n))
        assert attempt is not None
        numbers.append(attempt.number)
        task = store.task_runs(run.id)["extract"]
        assert (task.state, task.attempts) == (TaskState.RUNNING, n + 1)
        last = n == 2
        store.finish_attempt(
            attempt,
            TaskState.SUCCESS if last else TaskState.FAILED,
            at(10 * n + 5),
            will_retry=not last,
        )
        expected = TaskState.SUCCESS if last else TaskState.RETRYING
        assert store.task_runs(run.id)["extract"].state is expected

    assert numbers == [1, 2, 3]
    assert [(a.number, a.state) for a in store.attempts(run.id, "extract")] == [
        (1, TaskState.FAILED),
        (2, TaskState.FAILED),
        (3, TaskState.SUCCESS),
    ]
    assert store.task_runs(run.id)["load"].state is TaskState.PENDING


def test_start_attempt_records_a_running_attempt_with_log_paths(
    store: Store, tmp_path: Path
) -> None:
    run = started_run(store)

    attempt = store.start_attempt(run, "load", at(3), log_dir=tmp_path)

    assert attempt is not None
    assert (attempt.run_id, attempt.job, attempt.task) == (run.id, "etl", "load")
    assert (attempt.state, attempt.started_at, attempt.finished_at) == (
        TaskState.RUNNING,
        at(3),
        None,
    )
    assert attempt.supervisor == processes.current()
    assert attempt.stdout_path == str(tmp_path / "etl" / str(run.id) / "load.1.out")
    assert attempt.stderr_path == str(tmp_path / "etl" / str(run.id) / "load.1.err")
    assert store.get_attempt(attempt.id) == attempt


def test_start_attempt_of_an_unknown_task_raises_and_writes_nothing(store: Store) -> None:
    run = started_run(store)
    cursor = store.last_event_id()

    with pytest.raises(NotFoundError, match="no task 'nope'"):
        store.start_attempt(run, "nope", at(3))

    assert store.attempts(run.id) == []
    assert store.events_after(cursor) == []


def test_set_attempt_process_records_pid_and_span(store: Store) -> None:
    run = started_run(store)
    attempt = store.start_attempt(run, "extract", at(2))
    assert attempt is not None

    store.set_attempt_process(attempt, pid=4242, span_id="00f067aa0ba902b7")
    store.set_attempt_process(attempt, pid=4243)

    stored = store.get_attempt(attempt.id)
    assert (stored.pid, stored.span_id) == (4243, "00f067aa0ba902b7")


@pytest.mark.parametrize(
    ("state", "event_type"),
    [
        (TaskState.SUCCESS, AttemptSucceeded),
        (TaskState.FAILED, AttemptFailed),
        (TaskState.TIMED_OUT, AttemptTimedOut),
        (TaskState.CANCELLED, AttemptCancelled),
        (TaskState.SKIPPED, TaskSkipped),
    ],
)
def test_finish_attempt_records_each_outcome(
    store: Store, state: TaskState, event_type: type[Event]
) -> None:
    run = started_run(store)
    attempt = store.start_attempt(run, "extract", at(2))
    assert attempt is not None

    assert store.finish_attempt(
        attempt,
        state,
        at(4.5),
        exit_code=3,
        signal=15,
        error="boom",
        reason="why",
        result={"rows": 1},
    )

    stored = store.get_attempt(attempt.id)
    assert (stored.state, stored.finished_at, stored.duration_seconds) == (state, at(4.5), 2.5)
    assert (stored.exit_code, stored.signal, stored.error, stored.reason) == (3, 15, "boom", "why")
    assert stored.result == {"rows": 1}
    assert store.task_runs(run.id)["extract"].state is state
    event = store.events_after(0)[-1]
    assert type(event) is event_type
    assert (event.task, event.attempt, event.at) == ("extract", 1, at(4.5))
    payload = event.payload()
    assert payload["reason"] == "why"
    if event_type is not TaskSkipped:
        assert payload["duration_seconds"] == 2.5
        assert (payload["exit_code"], payload["signal"], payload["error"]) == (3, 15, "boom")
    if isinstance(event, AttemptFailed | AttemptTimedOut):
        assert event.will_retry is False


@pytest.mark.parametrize("state", [TaskState.FAILED, TaskState.TIMED_OUT])
def test_an_attempt_that_will_be_retried_leaves_its_task_retrying(
    store: Store, state: TaskState
) -> None:
    run = started_run(store)
    attempt = store.start_attempt(run, "extract", at(2))
    assert attempt is not None

    store.finish_attempt(attempt, state, at(3), will_retry=True)

    assert store.get_attempt(attempt.id).state is state
    assert store.task_runs(run.id)["extract"].state is TaskState.RETRYING
    event = store.events_after(0)[-1]
    assert isinstance(event, AttemptFailed | AttemptTimedOut)
    assert event.will_retry is True


def test_finish_attempt_rejects_impossible_outcomes_before_writing(store: Store) -> None:
    run = started_run(store)
    attempt = store.start_attempt(run, "extract", at(2))
    assert attempt is not None
    cursor = store.last_event_id()
    impossible = [
        (TaskState.RUNNING, False),
        (TaskState.PENDING, False),
        (TaskState.RETRYING, False),
        (TaskState.UPSTREAM_FAILED, False),
        (TaskState.SUCCESS, True),
        (TaskState.CANCELLED, True),
        (TaskState.SKIPPED, True),
    ]

    for state, will_retry in impossible:
        with pytest.raises(ValueError, match=state.value):
            store.finish_attempt(attempt, state, at(3), will_retry=will_retry)

    assert store.get_attempt(attempt.id).state is TaskState.RUNNING
    assert store.task_runs(run.id)["extract"].state is TaskState.RUNNING
    assert store.events_after(cursor) == []


def test_an_attempt_finishes_once(store: Store) -> None:
    run = started_run(store)
    attempt = store.start_attempt(run, "extract", at(2))
    assert attempt is not None
    assert store.finish_attempt(attempt, TaskState.SUCCESS, at(3))
    cursor = store.last_event_id()

    assert not store.finish_attempt(attempt, TaskState.FAILED, at(4))

    assert store.get_attempt(attempt.id).state is TaskState.SUCCESS
    assert store.events_after(cursor) == []


def test_attempt_totals_count_a_tasks_attempts_their_time_and_its_last_reason(
    store: Store,
) -> None:
    run = started_run(store)
    first = store.start_attempt(run, "extract", at(10))
    assert first is not None
    store.finish_attempt(first, TaskState.FAILED, at(12.5), reason="exit code 1", will_retry=True)
    second = store.start_attempt(run, "extract", at(20))
    assert second is not None
    store.finish_attempt(second, TaskState.FAILED, at(21), reason="exit code 2")
    running = store.start_attempt(run, "load", at(30))  # unfinished: no time yet
    assert running is not None

    totals = store.attempt_totals(run.id)

    assert totals == {"extract": (2, 3.5, "exit code 2"), "load": (1, 0.0, None)}
    assert store.attempt_totals(run.id + 1) == {}


def test_results_come_only_from_successful_attempts(store: Store) -> None:
    run = started_run(store, make_job(tasks=("a", "b", "c")))
    outcomes = [
        ("a", TaskState.FAILED, {"partial": True}),
        ("a", TaskState.SUCCESS, [1, 2]),
        ("b", TaskState.SUCCESS, None),
        ("c", TaskState.TIMED_OUT, "late"),
    ]
    for task, state, result in outcomes:
        attempt = store.start_attempt(run, task, at(1))
        assert attempt is not None
        store.finish_attempt(attempt, state, at(2), result=result)

    assert store.results(run.id) == {"a": [1, 2]}


# -- pools ------------------------------------------------------------------------


def test_a_pool_of_one_admits_one_attempt_until_it_finishes(store: Store) -> None:
    run = started_run(store)
    first = store.start_attempt(run, "extract", at(1), pool="db", pool_size=1)
    assert first is not None
    assert first.pool == "db"
    cursor = store.last_event_id()

    assert store.start_attempt(run, "load", at(2), pool="db", pool_size=1) is None
    assert store.events_after(cursor) == []
    assert store.task_runs(run.id)["load"].attempts == 0
    other_pool = store.start_attempt(run, "load", at(2), pool="api", pool_size=1)
    assert other_pool is not None
    store.finish_attempt(other_pool, TaskState.SUCCESS, at(3))

    store.finish_attempt(first, TaskState.SUCCESS, at(4))
    second = store.start_attempt(run, "load", at(5), pool="db", pool_size=1)

    assert second is not None
    assert second.number == 2


def test_pool_slots_are_shared_by_every_connection_to_the_store(db_url: str) -> None:
    with Store.open(db_url) as one, Store.open(db_url) as two:
        run_one = started_run(one, make_job("one"))
        run_two = started_run(two, make_job("two"))

        held = one.start_attempt(run_one, "extract", at(1), pool="db", pool_size=2)
        held_too = two.start_attempt(run_two, "extract", at(1), pool="db", pool_size=2)
        assert held is not None
        assert held_too is not None
        assert two.start_attempt(run_two, "load", at(2), pool="db", pool_size=2) is None
        assert one.start_attempt(run_one, "load", at(2), pool="db", pool_size=2) is None

        one.finish_attempt(held, TaskState.SUCCESS, at(3))

        assert two.start_attempt(run_two, "load", at(4), pool="db", pool_size=2) is not None
        assert one.start_attempt(run_one, "load", at(4), pool="db", pool_size=2) is None


# -- tasks and reruns -------------------------------------------------------------


def test_set_task_state_appends_skipped_and_upstream_failed_events(store: Store) -> None:
    run = started_run(store, make_job(tasks=("a", "b", "c")))
    cursor = store.last_event_id()

    store.set_task_state(run, "a", TaskState.SKIPPED, at(1), reason="not today")
    store.set_task_state(run, "b", TaskState.UPSTREAM_FAILED, at(2))
    store.set_task_state(run, "c", TaskState.CANCELLED, at(3), reason="stopped")

    states = {t: (r.state, r.updated_at) for t, r in store.task_runs(run.id).items()}
    assert states == {
        "a": (TaskState.SKIPPED, at(1)),
        "b": (TaskState.UPSTREAM_FAILED, at(2)),
        "c": (TaskState.CANCELLED, at(3)),
    }
    skipped, upstream = store.events_after(cursor)
    assert isinstance(skipped, TaskSkipped)
    assert (skipped.task, skipped.reason, skipped.attempt) == ("a", "not today", None)
    assert isinstance(upstream, TaskUpstreamFailed)
    assert upstream.task == "b"


def test_set_task_state_of_an_unknown_task_raises_and_writes_nothing(store: Store) -> None:
    run = started_run(store)
    cursor = store.last_event_id()

    with pytest.raises(NotFoundError, match="no task 'ghost'"):
        store.set_task_state(run, "ghost", TaskState.SKIPPED, at(1))

    assert store.events_after(cursor) == []


def test_prepare_rerun_queues_a_finished_run_again(store: Store) -> None:
    run = started_run(store)
    for task, state in (("extract", TaskState.SUCCESS), ("load", TaskState.FAILED)):
        attempt = store.start_attempt(run, task, at(2))
        assert attempt is not None
        store.finish_attempt(attempt, state, at(3))
    store.mark_run_finished(run, RunState.FAILED, at(4), reason="failed: load")
    cursor = store.last_event_id()

    store.prepare_rerun(run, ["load"], at(100))

    again = store.get_run(run.id)
    assert (again.state, again.finished_at, again.reason, again.supervisor) == (
        RunState.QUEUED,
        None,
        None,
        None,
    )
    tasks = store.task_runs(run.id)
    assert (tasks["extract"].state, tasks["load"].state) == (TaskState.SUCCESS, TaskState.PENDING)
    [event] = store.events_after(cursor)
    assert isinstance(event, RunQueued)
    assert (event.at, event.logical_time, event.trigger) == (at(100), T0, Trigger.SCHEDULE)
    assert store.mark_run_started(again, at(101))
    assert store.get_run(run.id).started_at == at(1)
    retry = store.start_attempt(again, "load", at(102))
    assert retry is not None
    assert retry.number == 2


def test_prepare_rerun_of_a_queued_run_only_resets_tasks(store: Store) -> None:
    run = new_run(store)
    store.set_task_state(run, "load", TaskState.SKIPPED, at(1))
    cursor = store.last_event_id()

    store.prepare_rerun(run, ["load"], at(2))

    assert store.task_runs(run.id)["load"].state is TaskState.PENDING
    assert store.get_run(run.id).state is RunState.QUEUED
    assert store.events_after(cursor) == []


def test_prepare_rerun_refuses_a_run_another_live_process_supervises(store: Store) -> None:
    run = started_run(store)
    # pid 1 is alive on every host; it is not this process.
    init = processes.identity_of(1)
    assert init is not None
    sql(store).execute("UPDATE runs SET supervisor = :s WHERE id = :id", {"s": init, "id": run.id})

    with pytest.raises(StoreError, match="is running under"):
        store.prepare_rerun(run, ["load"], at(5))

    assert store.get_run(run.id).state is RunState.RUNNING


def test_prepare_rerun_takes_over_a_run_of_this_process(store: Store) -> None:
    run = started_run(store)

    store.prepare_rerun(run, ["load"], at(5))

    assert store.get_run(run.id).state is RunState.QUEUED


def test_add_task_rows_adds_only_missing_tasks(store: Store) -> None:
    run = started_run(store)
    attempt = store.start_attempt(run, "extract", at(1))
    assert attempt is not None

    changed = make_job(tasks=("extract", "load", "publish"))
    store.add_task_rows(run, changed, ["extract", "publish"], at(2))

    tasks = store.task_runs(run.id)
    assert sorted(tasks) == ["extract", "load", "publish"]
    assert tasks["extract"].state is TaskState.RUNNING
    assert (tasks["publish"].state, tasks["publish"].attempts) == (TaskState.PENDING, 0)


# -- transactions -----------------------------------------------------------------


def test_a_transaction_commits_its_writes_together(store: Store) -> None:
    job = make_job()

    def crash_after_writes() -> None:
        with store.transaction():
            store.mark_run_started(new_run(store, job), at(1))
            raise RuntimeError("crash")

    with pytest.raises(RuntimeError, match="crash"):
        crash_after_writes()

    assert store.list_runs() == []
    assert store.events_after(0) == []

    with store.transaction():
        run = new_run(store, job)
        store.mark_run_started(run, at(1))
    assert store.get_run(run.id).state is RunState.RUNNING
    assert types_after(store, 0) == [RunQueued, RunStarted]


def test_a_failed_inner_write_is_undone_and_the_outer_transaction_goes_on(
    store: Store,
) -> None:
    def start_then_crash(run: RunRecord) -> None:
        with store.transaction():
            store.mark_run_started(run, at(2))
            raise ValueError("crash")

    with store.transaction():
        run = new_run(store)
        with pytest.raises(NotFoundError):
            store.start_attempt(run, "ghost", at(1))
        with pytest.raises(ValueError, match="crash"):
            start_then_crash(run)
        attempt = store.start_attempt(run, "extract", at(3))

    assert attempt is not None
    assert attempt.number == 1
    assert store.get_run(run.id).state is RunState.QUEUED
    assert types_after(store, 0) == [RunQueued, AttemptStarted]


# -- jobs, heartbeats -------------------------------------------------------------


def test_sync_jobs_upserts_definitions_and_keeps_the_paused_flag(store: Store) -> None:
    store.sync_jobs([make_job("a"), make_job("b")], at(1))
    store.set_paused("a", True)
    changed = Job(name="a", tasks={"x": Task("x", command="true")}, timezone="Europe/Paris")

    store.sync_jobs([changed], at(2))

    a, b = store.list_jobs()
    assert (a.name, a.paused, a.timezone, a.schedule, a.owner) == (
        "a",
        True,
        "Europe/Paris",
        None,
        None,
    )
    assert (a.tags, a.source, a.updated_at) == ((), "<python>", at(2))
    assert (b.name, b.paused, b.tags, b.owner, b.updated_at) == (
        "b",
        False,
        ("nightly",),
        "data",
        at(1),
    )
    assert store.get_job("b") == b
    assert store.get_job("c") is None


def test_set_paused_toggles_and_unknown_jobs_raise_not_found(store: Store) -> None:
    store.sync_jobs([make_job()], at(1))

    store.set_paused("etl", True)
    assert store.get_job("etl").paused is True  # type: ignore[union-attr]
    store.set_paused("etl", False)
    assert store.get_job("etl").paused is False  # type: ignore[union-attr]
    with pytest.raises(NotFoundError, match="'nope' is not known"):
        store.set_paused("nope", True)


def test_heartbeat_keeps_one_row_per_process_name(store: Store) -> None:
    store.heartbeat("scheduler", at(1), {"pid": 1})
    store.heartbeat("scheduler", at(2), {"pid": 2})
    store.heartbeat("server", at(3))

    rows = sql(store).rows("SELECT name, at, info FROM heartbeats ORDER BY name")
    assert rows == [
        {"name": "scheduler", "at": at(2).timestamp(), "info": '{"pid":2}'},
        {"name": "server", "at": at(3).timestamp(), "info": "{}"},
    ]


# -- prune ------------------------------------------------------------------------


def _finished_run_with_logs(store: Store, job: Job, queued: datetime, log_dir: Path) -> RunRecord:
    run = store.create_run(job, queued, Trigger.SCHEDULE, queued)
    assert run is not None
    store.mark_run_started(run, queued)
    for task in job.tasks:
        attempt = store.start_attempt(run, task, queued, log_dir=log_dir)
        assert attempt is not None
        assert attempt.stdout_path
        assert attempt.stderr_path
        for path in (attempt.stdout_path, attempt.stderr_path):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text("output\n")
        store.finish_attempt(attempt, TaskState.SUCCESS, queued)
    store.mark_run_finished(run, RunState.SUCCESS, queued)
    return run


def test_prune_deletes_old_finished_runs_with_their_rows_events_and_logs(
    store: Store, tmp_path: Path
) -> None:
    job = make_job()
    old = _finished_run_with_logs(store, job, T0, tmp_path)
    recent = _finished_run_with_logs(store, job, at(86400 * 30), tmp_path)
    old_running = started_run(store, job, at(60))
    store.append(RunMissed(at=at(5), job="etl", expected_at=T0))
    store.append(RunMissed(at=at(86400 * 30), job="etl", expected_at=T0))

    counts = store.prune(at(86400 * 7), logs_dir=tmp_path)

    # old: 1 run, 2 task rows, 2 attempts, RunQueued/Started/Finished + 2 x 2 attempt events,
    # 4 log files; and one job event without a run.
    assert counts == {"runs": 1, "task_runs": 2, "attempts": 2, "events": 8, "log_files": 4}
    assert [r.id for r in store.list_runs()] == [old_running.id, recent.id]
    with pytest.raises(NotFoundError):
        store.get_run(old.id)
    assert store.task_runs(old.id) == {}
    assert store.attempts(old.id) == []
    remaining = store.events_after(0)
    assert {e.run_id for e in remaining} == {recent.id, old_running.id, None}
    assert not (tmp_path / "etl" / str(old.id)).exists()
    assert len(list((tmp_path / "etl" / str(recent.id)).iterdir())) == 4
    assert store.prune(at(86400 * 7), logs_dir=tmp_path) == {
        "runs": 0,
        "task_runs": 0,
        "attempts": 0,
        "events": 0,
        "log_files": 0,
    }


def test_prune_counts_only_log_files_that_existed(store: Store, tmp_path: Path) -> None:
    run = _finished_run_with_logs(store, make_job(tasks=("only",)), T0, tmp_path)
    for attempt in store.attempts(run.id):
        Path(attempt.stdout_path or "").unlink()

    assert store.prune(at(1), logs_dir=tmp_path)["log_files"] == 1


# -- time -------------------------------------------------------------------------


def test_aware_datetimes_round_trip_exactly_as_utc(store: Store) -> None:
    logical = datetime(2024, 3, 31, 1, 59, 59, 999_999, tzinfo=UTC)
    queued = datetime(2038, 1, 19, 3, 14, 8, 123_457, tzinfo=timezone(timedelta(hours=5)))
    job = make_job()

    run = store.create_run(job, logical, Trigger.BACKFILL, queued)

    assert run is not None
    stored = store.get_run(run.id)
    assert stored.logical_time == logical
    assert stored.logical_time.tzinfo is UTC
    assert stored.queued_at == queued
    assert stored.queued_at.tzinfo is UTC
    assert stored.queued_at.microsecond == 123_457
    assert store.find_run("etl", logical) == stored
    assert store.events_after(0)[0].at == queued
    moments = [T0 + timedelta(days=37 * n, microseconds=7919 * n % 1_000_000) for n in range(200)]
    for n, moment in enumerate(moments):
        store.heartbeat(f"clock-{n}", moment)
    stored_moments = sql(store).rows("SELECT at FROM heartbeats ORDER BY at")
    assert [from_epoch(r["at"]) for r in stored_moments] == moments


def test_naive_datetimes_are_rejected_before_anything_is_written(store: Store) -> None:
    naive = datetime(2024, 5, 1, 12, 0)
    job = make_job()

    with pytest.raises(ValueError, match="naive datetime"):
        store.create_run(job, naive, Trigger.MANUAL, T0)
    with pytest.raises(ValueError, match="naive datetime"):
        store.create_run(job, T0, Trigger.MANUAL, naive)
    run = new_run(store, job)
    with pytest.raises(ValueError, match="naive datetime"):
        store.mark_run_started(run, naive)
    store.mark_run_started(run, at(1))
    with pytest.raises(ValueError, match="naive datetime"):
        store.start_attempt(run, "extract", naive)
    attempt = store.start_attempt(run, "extract", at(2))
    assert attempt is not None
    cursor = store.last_event_id()
    with pytest.raises(ValueError, match="naive datetime"):
        store.finish_attempt(attempt, TaskState.SUCCESS, naive)
    with pytest.raises(ValueError, match="naive datetime"):
        store.mark_run_finished(run, RunState.SUCCESS, naive)
    with pytest.raises(ValueError, match="naive datetime"):
        store.set_task_state(run, "load", TaskState.SKIPPED, naive)
    with pytest.raises(ValueError, match="naive datetime"):
        store.sync_jobs([job], naive)
    with pytest.raises(ValueError, match="naive datetime"):
        store.append(RunMissed(at=naive, job="etl"))

    assert store.events_after(cursor) == []
    assert [r.id for r in store.list_runs()] == [run.id]
    assert store.get_attempt(attempt.id).state is TaskState.RUNNING
