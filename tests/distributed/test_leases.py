"""The store's claim / heartbeat / stop / outcome protocol, on SQLite and PostgreSQL,
and the recovery of dead schedulers' and workers' work, driven with explicit times."""

from __future__ import annotations

import queue
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runner.engine.engine import Engine
from runner.engine.executor import Message
from runner.executors.celery.recovery import OrphanRecovery
from runner.executors.local.executor import LocalExecutor
from runner.model import Job, RunState, Task, TaskState, Trigger
from runner.scheduling.scheduler import Scheduler
from runner.store import leases
from runner.store.leases import Claim
from runner.store.records import AttemptRecord, RunRecord
from runner.store.recovery import orphaned_outcome
from runner.store.scheduling import claim_run
from runner.store.store import Store
from tests.storesql import sql

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
ELSEWHERE = "other-host:4242:777"
"""A process on another host: only its heartbeat can tell whether it lives."""
WORKER = "worker-host:99:123"

JOB = Job(
    name="nightly",
    tasks={"extract": Task("extract", command="true", retries=1)},
    schedule="0 3 * * *",
)


def dispatched(store: Store, *, supervisor: str | None = None) -> tuple[RunRecord, AttemptRecord]:
    """A running scheduled run with one running attempt, as an engine leaves them."""
    store.sync_jobs([JOB], T0)
    run = store.create_run(JOB, T0, Trigger.SCHEDULE, T0)
    assert run is not None
    assert store.mark_run_started(run, T0)
    attempt = store.start_attempt(run, "extract", T0)
    assert attempt is not None
    if supervisor is not None:
        with store.transaction():
            sql(store).execute("UPDATE runs SET supervisor = :s", {"s": supervisor})
            sql(store).execute("UPDATE attempts SET supervisor = :s", {"s": supervisor})
    return store.get_run(run.id), attempt


def test_only_the_first_claim_of_an_attempt_wins(store: Store) -> None:
    _, attempt = dispatched(store)
    assert leases.claim_attempt(store, attempt.id, WORKER, T0) is Claim.CLAIMED
    assert leases.claim_attempt(store, attempt.id, "w2:1:1", T0) is Claim.REFUSED
    assert leases.claim_attempt(store, attempt.id + 100, WORKER, T0) is Claim.MISSING
    assert store.get_attempt(attempt.id).supervisor == WORKER


def test_an_outcome_is_decided_once_and_ends_the_heartbeat(store: Store) -> None:
    _, attempt = dispatched(store)
    leases.claim_attempt(store, attempt.id, WORKER, T0)
    assert leases.renew_attempt(store, attempt.id, T0).kept
    assert leases.decide_outcome(store, attempt.id, {"state": "success", "exit_code": 0})
    assert not leases.decide_outcome(store, attempt.id, orphaned_outcome("x"))
    assert not leases.renew_attempt(store, attempt.id, T0).kept
    lease = leases.lease(store, attempt.id)
    assert lease is not None
    assert lease.outcome == {"state": "success", "exit_code": 0}


def test_an_orphan_is_judged_only_on_a_heartbeat_older_than_the_cutoff(store: Store) -> None:
    _, attempt = dispatched(store)
    leases.claim_attempt(store, attempt.id, WORKER, T0)
    leases.renew_attempt(store, attempt.id, T0 + timedelta(seconds=20))
    orphaned = orphaned_outcome("worker")
    cutoff = T0 + timedelta(seconds=10)
    assert not leases.decide_outcome(store, attempt.id, orphaned, stale_before=cutoff)
    later = T0 + timedelta(seconds=30)
    assert leases.decide_outcome(store, attempt.id, orphaned, stale_before=later)


def test_stopping_an_unclaimed_attempt_decides_it_and_refuses_its_message(store: Store) -> None:
    _, attempt = dispatched(store)
    stop = {"state": "cancelled", "reason": "run cancelled"}
    assert leases.request_stop(store, attempt.id, stop) is True
    assert leases.claim_attempt(store, attempt.id, WORKER, T0) is Claim.REFUSED
    lease = leases.lease(store, attempt.id)
    assert lease is not None
    assert lease.outcome == stop


def test_stopping_a_claimed_attempt_asks_its_worker(store: Store) -> None:
    _, attempt = dispatched(store)
    leases.claim_attempt(store, attempt.id, WORKER, T0)
    stop = {"state": "timed_out", "reason": "timed out"}
    assert leases.request_stop(store, attempt.id, stop) is False
    renewal = leases.renew_attempt(store, attempt.id, T0)
    assert renewal.kept
    assert renewal.stop_request == stop
    store.finish_attempt(attempt, TaskState.TIMED_OUT, T0)
    assert leases.request_stop(store, attempt.id, stop) is None


@pytest.fixture
def scheduler(store: Store, tmp_path: Path) -> Scheduler:
    messages: queue.SimpleQueue[Message] = queue.SimpleQueue()
    engine = Engine(store, LocalExecutor(messages), messages, log_dir=tmp_path / "logs")
    return Scheduler(store, engine, {JOB.name: JOB}, now=T0)


def recovery(store: Store) -> OrphanRecovery:
    return OrphanRecovery(store, scheduler_stale_after=60, worker_stale_after=30)


def test_a_remote_scheduler_is_judged_dead_by_its_heartbeat_only(store: Store) -> None:
    dispatched(store, supervisor=ELSEWHERE)
    assert recovery(store).dead_schedulers(T0) == []  # no heartbeat: cannot judge
    store.heartbeat(f"scheduler:{ELSEWHERE}", T0, {"state": "running"})
    assert recovery(store).dead_schedulers(T0 + timedelta(seconds=59)) == []
    assert recovery(store).dead_schedulers(T0 + timedelta(seconds=61)) == [ELSEWHERE]


def test_a_dead_schedulers_run_waits_for_its_worker_then_ends_as_its_task_did(
    store: Store, scheduler: Scheduler
) -> None:
    run, attempt = dispatched(store, supervisor=ELSEWHERE)
    store.heartbeat(f"scheduler:{ELSEWHERE}", T0, {"state": "running"})
    leases.claim_attempt(store, attempt.id, WORKER, T0)
    now = T0 + timedelta(seconds=61)
    leases.renew_attempt(store, attempt.id, now)

    first = recovery(store).run(now, scheduler)
    assert (first.failed_runs, first.settled_attempts, first.resumed_runs) == ([], [], [])
    assert store.get_attempt(attempt.id).state is TaskState.RUNNING
    assert store.get_run(run.id).state is RunState.RUNNING  # not failed while its worker runs

    leases.decide_outcome(store, attempt.id, {"state": "success", "exit_code": 0})
    second = recovery(store).run(now, scheduler)
    assert [a.id for a in second.settled_attempts] == [attempt.id]
    assert [r.id for r in second.failed_runs] == [run.id]  # ended: as its task did
    assert second.resumed_runs == []
    assert store.get_run(run.id).state is RunState.SUCCESS
    assert [a.state for a in store.attempts(run.id)] == [TaskState.SUCCESS]
    assert "run_failed" not in [e.type for e in store.events_after(0) if e.run_id == run.id]


def test_a_silent_worker_of_a_dead_scheduler_is_orphaned_and_the_task_retried(
    store: Store, scheduler: Scheduler
) -> None:
    run, attempt = dispatched(store, supervisor=ELSEWHERE)
    store.heartbeat(f"scheduler:{ELSEWHERE}", T0, {"state": "running"})
    leases.claim_attempt(store, attempt.id, WORKER, T0)

    result = recovery(store).run(T0 + timedelta(seconds=61), scheduler)

    assert [a.id for a in result.settled_attempts] == [attempt.id]
    orphan = store.get_attempt(attempt.id)
    assert (orphan.state, orphan.reason) == (TaskState.FAILED, "orphaned")
    assert [r.id for r in result.resumed_runs] == [run.id]
    scheduler.engine.run_until_done()
    assert [a.state for a in store.attempts(run.id)] == [TaskState.FAILED, TaskState.SUCCESS]
    assert store.get_run(run.id).state is RunState.SUCCESS


def test_an_unclaimed_attempt_of_a_dead_scheduler_is_orphaned_at_once(store: Store) -> None:
    run, attempt = dispatched(store, supervisor=ELSEWHERE)
    store.heartbeat(f"scheduler:{ELSEWHERE}", T0, {"state": "stopped"})
    result = recovery(store).run(T0)
    assert [a.id for a in result.settled_attempts] == [attempt.id]
    assert leases.claim_attempt(store, attempt.id, WORKER, T0) is Claim.REFUSED
    assert store.get_run(run.id).reason == "orphaned"


def test_two_recoveries_of_one_dead_scheduler_record_everything_once(
    store: Store, scheduler: Scheduler, db_url: str
) -> None:
    run, attempt = dispatched(store, supervisor=ELSEWHERE)
    store.heartbeat(f"scheduler:{ELSEWHERE}", T0, {"state": "running"})
    later = T0 + timedelta(seconds=61)
    with Store.open(db_url, recover=False) as other:
        first, second = recovery(store).run(later), recovery(other).run(later)
    assert len(first.failed_runs) + len(second.failed_runs) == 1
    assert len(first.settled_attempts) + len(second.settled_attempts) == 1
    assert claim_run(store, run.id, reclaim=True)
    types = [e.type for e in store.events_after(0) if e.run_id == run.id]
    assert types.count("run_failed") == 1
    assert types.count("attempt_failed") == 1
    assert store.get_attempt(attempt.id).reason == "orphaned"
