"""The engine's turn: one all-or-nothing transaction whose events are written together."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from runner.errors import StoreError
from runner.events import AttemptStarted, AttemptSucceeded, RunQueued, RunStarted
from runner.model import Job, Task, TaskState, Trigger
from runner.store.store import Store

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def wide_job(width: int) -> Job:
    return Job(name="wide", tasks={f"t{i}": Task(f"t{i}", command=("true",)) for i in range(width)})


def test_a_turn_commits_rows_and_events_together_in_the_order_they_happened(store: Store) -> None:
    job = wide_job(3)
    store.sync_jobs([job], T0)
    with store.turn():
        run = store.create_run(job, T0, Trigger.MANUAL, at(0))
        assert run is not None
        assert store.mark_run_started(run, at(1))
        attempts = [store.start_attempt(run, t, at(2)) for t in job.tasks]
        for attempt in attempts:
            assert attempt is not None
            assert store.finish_attempt(attempt, TaskState.SUCCESS, at(3), process=(123, None))

    events = store.events_after(0)
    assert [type(e) for e in events] == [RunQueued, RunStarted] + [AttemptStarted] * 3 + [
        AttemptSucceeded
    ] * 3
    assert [e.task for e in events[2:]] == ["t0", "t1", "t2"] * 2
    assert [e.id for e in events] == sorted(e.id for e in events)
    stored = store.attempts(run.id)
    assert [a for a in stored if a.state is TaskState.SUCCESS] == stored
    assert {a.pid for a in stored} == {123}
    assert stored[0] == store.get_attempt(attempts[0].id)


def test_an_attempt_started_in_a_turn_is_what_the_store_holds(store: Store) -> None:
    job = wide_job(1)
    store.sync_jobs([job], T0)
    run = store.create_run(job, T0, Trigger.MANUAL, at(0))
    assert run is not None
    with store.turn():
        attempt = store.start_attempt(run, "t0", at(1), pool="db", pool_size=2)

    assert attempt is not None
    assert attempt == store.get_attempt(attempt.id)


def test_a_failed_turn_writes_no_row_and_no_event(store: Store) -> None:
    job = wide_job(2)
    store.sync_jobs([job], T0)
    run = store.create_run(job, T0, Trigger.MANUAL, at(0))
    assert run is not None
    cursor = store.last_event_id()

    def crash_mid_turn() -> None:
        with store.turn():
            assert store.mark_run_started(run, at(1))
            store.start_attempt(run, "t0", at(2))
            raise RuntimeError("crash")

    with pytest.raises(RuntimeError, match="crash"):
        crash_mid_turn()

    assert store.events_after(cursor) == []
    assert store.attempts(run.id) == []
    with store.turn():
        assert store.mark_run_started(run, at(3))
    assert [type(e) for e in store.events_after(cursor)] == [RunStarted]


def test_a_turn_cannot_be_nested_in_another_transaction(store: Store) -> None:
    with store.transaction(), pytest.raises(StoreError, match="cannot be nested"):
        store.turn().__enter__()


def test_a_turn_of_more_events_than_one_insert_holds_keeps_them_all_in_order(
    store: Store,
) -> None:
    job = wide_job(700)
    store.sync_jobs([job], T0)
    with store.turn():
        run = store.create_run(job, T0, Trigger.MANUAL, at(0))
        assert run is not None
        for task in job.tasks:
            store.set_task_state(run, task, TaskState.SKIPPED, at(1), reason="why not")

    events = store.events_after(0, limit=2000)
    assert len(events) == 701
    assert [e.task for e in events[1:]] == list(job.tasks)


def test_a_task_state_held_to_the_end_of_a_turn_gives_way_to_a_newer_one(store: Store) -> None:
    job = wide_job(2)
    store.sync_jobs([job], T0)
    run = store.create_run(job, T0, Trigger.MANUAL, at(0))
    assert run is not None
    first = store.start_attempt(run, "t0", at(1))
    other = store.start_attempt(run, "t1", at(1))
    assert first is not None
    assert other is not None
    with store.turn():
        store.finish_attempt(first, TaskState.FAILED, at(2), will_retry=True)
        store.finish_attempt(other, TaskState.SUCCESS, at(2))
        assert store.task_runs(run.id)["t0"].state is TaskState.RETRYING  # held, then read
        store.finish_attempt(first, TaskState.FAILED, at(2))  # already finished: no change
        second = store.start_attempt(run, "t0", at(3))

    rows = store.task_runs(run.id)
    assert second is not None
    assert (rows["t0"].state, rows["t0"].attempts) == (TaskState.RUNNING, 2)
    assert (rows["t1"].state, rows["t1"].updated_at) == (TaskState.SUCCESS, at(2))


def test_task_states_held_in_a_failed_turn_are_never_written(store: Store) -> None:
    job = wide_job(1)
    store.sync_jobs([job], T0)
    run = store.create_run(job, T0, Trigger.MANUAL, at(0))
    assert run is not None
    attempt = store.start_attempt(run, "t0", at(1))
    assert attempt is not None

    def crash_mid_turn() -> None:
        with store.turn():
            store.finish_attempt(attempt, TaskState.SUCCESS, at(2))
            raise RuntimeError("crash")

    with pytest.raises(RuntimeError, match="crash"):
        crash_mid_turn()
    with store.turn():
        pass

    assert store.task_runs(run.id)["t0"].state is TaskState.RUNNING
    assert store.get_attempt(attempt.id).state is TaskState.RUNNING
