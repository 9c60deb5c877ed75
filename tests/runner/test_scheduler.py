"""The scheduler driven one tick at a time with explicit times, on a real store and engine."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runner.engine.engine import Engine
from runner.engine.executor import Message
from runner.events import RunSkipped
from runner.executors.local.executor import LocalExecutor
from runner.model import Job, Overlap, RunState, Task, TaskState, Trigger
from runner.scheduling.scheduler import Scheduler
from runner.store.records import RunRecord
from runner.store.scheduling import claim_run
from runner.store.store import Store

T0 = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)


@dataclass
class World:
    store: Store
    engine: Engine
    tmp: Path

    def scheduler(self, *jobs: Job, now: datetime = T0) -> Scheduler:
        self.store.sync_jobs(jobs, now)
        return Scheduler(self.store, self.engine, {j.name: j for j in jobs}, now=now)

    def runs(self, job: str = "tick") -> list[RunRecord]:
        return sorted(self.store.list_runs(job=job, limit=1000), key=lambda r: r.logical_time)

    def drain(self) -> None:
        self.engine.run_until_done()


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    store = Store.open(f"sqlite:///{tmp_path}/runwatch.db")
    messages: queue.SimpleQueue[Message] = queue.SimpleQueue()
    engine = Engine(store, LocalExecutor(messages), messages, log_dir=tmp_path / "logs")
    yield World(store, engine, tmp_path)
    engine.close()
    store.close()


def every_minute(command: str = "true", **options: object) -> Job:
    return Job(
        name=str(options.pop("name", "tick")),
        tasks={"t": Task("t", command=command)},
        schedule="* * * * *",
        **options,  # type: ignore[arg-type]
    )


def test_a_fire_time_creates_exactly_one_run_however_often_it_is_ticked(world: World) -> None:
    scheduler = world.scheduler(every_minute())
    assert scheduler.next_fire_times() == {"tick": T0 + timedelta(minutes=1)}
    scheduler.tick(T0 + timedelta(seconds=30))
    assert world.runs() == []
    assert scheduler.due_in(T0 + timedelta(seconds=30)) == pytest.approx(1.0)
    for _ in range(3):
        scheduler.tick(T0 + timedelta(minutes=1, seconds=1))
    world.drain()
    (run,) = world.runs()
    assert run.logical_time == T0 + timedelta(minutes=1)
    assert run.trigger is Trigger.SCHEDULE
    assert run.state is RunState.SUCCESS


def test_two_schedulers_on_one_store_never_create_or_start_a_run_twice(world: World) -> None:
    job = every_minute()
    first = world.scheduler(job)
    second = Scheduler(world.store, world.engine, {job.name: job}, now=T0)
    at = T0 + timedelta(minutes=1, seconds=1)
    first.tick(at)
    second.tick(at)
    world.drain()
    assert len(world.runs()) == 1
    assert len(world.store.attempts(world.runs()[0].id)) == 1


def test_without_catchup_only_the_latest_missed_fire_time_runs_after_downtime(
    world: World,
) -> None:
    scheduler = world.scheduler(every_minute())
    scheduler.tick(T0 + timedelta(minutes=10, seconds=5))
    world.drain()
    assert [r.logical_time for r in world.runs()] == [T0 + timedelta(minutes=10)]


def test_catchup_runs_every_missed_fire_time_oldest_first_one_at_a_time(world: World) -> None:
    scheduler = world.scheduler(every_minute(catchup=True, max_active_runs=1))
    now = T0 + timedelta(minutes=4, seconds=5)
    scheduler.tick(now)
    assert [r.state for r in world.runs()] == [RunState.RUNNING] + [RunState.QUEUED] * 3
    while len([r for r in world.runs() if r.state is RunState.SUCCESS]) < 4:
        world.engine.step(timeout=1)
        now += timedelta(seconds=2)
        scheduler.tick(now)
    runs = world.runs()
    assert [r.logical_time for r in runs] == [T0 + timedelta(minutes=m) for m in range(1, 5)]
    starts = [r.started_at for r in runs]
    finishes = [r.finished_at for r in runs]
    assert all(s is not None for s in starts)
    for previous_end, next_start in zip(finishes, starts[1:], strict=False):
        assert previous_end is not None
        assert next_start is not None
        assert next_start >= previous_end, "max_active_runs 1 let two runs overlap"


def test_overlap_skip_records_the_skipped_fire_time_instead_of_dropping_it(world: World) -> None:
    scheduler = world.scheduler(every_minute("sleep 30", kill_grace=0.2))
    scheduler.tick(T0 + timedelta(minutes=1))
    scheduler.tick(T0 + timedelta(minutes=2))
    skipped = [e for e in world.store.events_after(0) if isinstance(e, RunSkipped)]
    assert len(skipped) == 1
    assert skipped[0].logical_time == T0 + timedelta(minutes=2)
    assert "overlap: skip" in skipped[0].reason
    assert len(world.runs()) == 1
    world.engine.cancel("test over")
    world.drain()


def test_a_job_whose_schedule_cannot_run_is_left_unscheduled_and_the_others_are_not(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    # A runner.model.Job built in a Python job file skips the loaders' checks.
    broken = every_minute(name="broken")
    broken = Job(name="broken", tasks=broken.tasks, schedule="61 * * * *")
    scheduler = world.scheduler(broken, every_minute(name="healthy"))

    assert scheduler.next_fire_times() == {"healthy": T0 + timedelta(minutes=1)}
    assert "job broken is not scheduled: <python>: job 'broken', key 'schedule': " in caplog.text
    scheduler.tick(T0 + timedelta(minutes=1, seconds=1))
    world.drain()
    assert [r.state for r in world.runs("healthy")] == [RunState.SUCCESS]


def test_a_fire_time_during_a_backfill_run_is_queued_not_skipped(world: World) -> None:
    job = every_minute()
    scheduler = world.scheduler(job)
    backfill = world.store.create_run(job, T0 - timedelta(days=1), Trigger.BACKFILL, T0, claim=True)
    assert backfill is not None
    world.store.mark_run_started(backfill, T0)

    scheduler.tick(T0 + timedelta(minutes=1))

    assert not [e for e in world.store.events_after(0) if isinstance(e, RunSkipped)]
    scheduled = [r for r in world.runs() if r.trigger is Trigger.SCHEDULE]
    assert [r.state for r in scheduled] == [RunState.QUEUED]  # max_active_runs: 1 is held


def test_a_restarted_scheduler_does_not_redo_a_skipped_fire_time(world: World) -> None:
    job = every_minute("sleep 30", kill_grace=0.2)
    scheduler = world.scheduler(job)
    scheduler.tick(T0 + timedelta(minutes=1))
    scheduler.tick(T0 + timedelta(minutes=2))
    world.engine.cancel("test over")
    world.drain()
    restarted = Scheduler(world.store, world.engine, {job.name: job}, now=T0 + timedelta(minutes=3))
    assert restarted.next_fire_times()["tick"] == T0 + timedelta(minutes=3)


def test_overlap_queue_starts_the_next_run_when_the_previous_one_ends(world: World) -> None:
    scheduler = world.scheduler(every_minute("sleep 0.3", overlap=Overlap.QUEUE))
    scheduler.tick(T0 + timedelta(minutes=1))
    scheduler.tick(T0 + timedelta(minutes=2))
    assert [r.state for r in world.runs()] == [RunState.RUNNING, RunState.QUEUED]
    world.drain()
    scheduler.tick(T0 + timedelta(minutes=2, seconds=2))
    world.drain()
    first, second = world.runs()
    assert second.state is RunState.SUCCESS
    assert first.finished_at is not None
    assert second.started_at is not None
    assert second.started_at >= first.finished_at


def test_overlap_cancel_previous_cancels_the_running_run_for_the_new_one(world: World) -> None:
    scheduler = world.scheduler(
        every_minute("sleep 30", overlap=Overlap.CANCEL_PREVIOUS, kill_grace=0.2)
    )
    scheduler.tick(T0 + timedelta(minutes=1))
    scheduler.tick(T0 + timedelta(minutes=2))
    while world.runs()[0].state is RunState.RUNNING:
        world.engine.step(timeout=1)
    scheduler.tick(T0 + timedelta(minutes=2, seconds=1))
    first, second = world.runs()
    assert first.state is RunState.CANCELLED
    assert first.reason is not None
    assert "cancel_previous" in first.reason
    assert second.state is RunState.RUNNING
    world.engine.cancel("test over")
    world.drain()


def test_a_paused_job_lets_fire_times_pass_and_resumes_when_unpaused(world: World) -> None:
    scheduler = world.scheduler(every_minute())
    world.store.set_paused("tick", True)
    scheduler.tick(T0 + timedelta(minutes=1))
    assert world.runs() == []
    world.store.set_paused("tick", False)
    scheduler.tick(T0 + timedelta(minutes=2))
    world.drain()
    assert [r.logical_time for r in world.runs()] == [T0 + timedelta(minutes=2)]


def test_a_manually_triggered_run_is_claimed_and_started_by_the_scheduler(world: World) -> None:
    job = Job(name="manual", tasks={"t": Task("t", command="true")})
    scheduler = world.scheduler(job)
    queued = world.store.create_run(job, T0, Trigger.MANUAL, T0)
    assert queued is not None
    scheduler.tick(T0 + timedelta(seconds=2))
    world.drain()
    (run,) = world.runs("manual")
    assert run.state is RunState.SUCCESS
    assert not claim_run(world.store, run.id), "a finished run cannot be claimed again"


def test_a_run_claimed_by_someone_else_is_left_alone(world: World) -> None:
    job = Job(name="manual", tasks={"t": Task("t", command="true")})
    scheduler = world.scheduler(job)
    queued = world.store.create_run(job, T0, Trigger.MANUAL, T0, claim=True)
    assert queued is not None
    scheduler.tick(T0 + timedelta(seconds=2))
    assert world.store.get_run(queued.id).state is RunState.QUEUED


def test_an_orphaned_run_resumes_only_tasks_with_retries_left(world: World) -> None:
    job = Job(
        name="tick",
        tasks={
            "retryable": Task("retryable", command="true", retries=1),
            "final": Task("final", command="true"),
            "after": Task("after", command="true", after=("retryable",)),
        },
        schedule="* * * * *",
    )
    scheduler = world.scheduler(job)
    run = world.store.create_run(job, T0, Trigger.SCHEDULE, T0)
    assert run is not None
    world.store.mark_run_started(run, T0)
    for name in ("retryable", "final"):
        attempt = world.store.start_attempt(run, name, T0)
        assert attempt is not None
        world.store.finish_attempt(attempt, TaskState.FAILED, T0, reason="orphaned")
    world.store.mark_run_finished(
        world.store.get_run(run.id), RunState.FAILED, T0, reason="orphaned"
    )
    scheduler.resume(world.store.get_run(run.id))
    world.drain()
    final = world.store.get_run(run.id)
    states = {n: t.state for n, t in world.store.task_runs(run.id).items()}
    assert states == {
        "retryable": TaskState.SUCCESS,
        "final": TaskState.FAILED,
        "after": TaskState.SUCCESS,
    }
    assert final.state is RunState.FAILED
    assert len(world.store.attempts(run.id, "final")) == 1


def test_a_job_whose_run_cannot_start_fails_that_run_and_the_others_still_run(
    world: World,
) -> None:
    # A Python-defined job bypasses the YAML checks; an impossible timeout must fail its own
    # run, not stop the scheduler.
    broken = every_minute(name="broken", timeout=float("inf"))
    healthy = every_minute(name="healthy")
    scheduler = world.scheduler(broken, healthy)

    scheduler.tick(T0 + timedelta(minutes=1, seconds=1))
    world.drain()
    scheduler.tick(T0 + timedelta(minutes=2, seconds=1))
    world.drain()

    broken_runs = world.runs("broken")
    assert [r.state for r in broken_runs] == [RunState.FAILED, RunState.FAILED]
    assert broken_runs[0].reason == (
        "runwatch could not start the run: <python>: job 'broken', key 'timeout': "
        "a duration can be at most 3650d (ten years), got inf"
    )
    assert [r.state for r in world.runs("healthy")] == [RunState.SUCCESS, RunState.SUCCESS]
