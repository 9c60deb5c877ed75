"""Data-aware schedules: a job runs when all (or any) of its datasets were updated since
its last such run, once per update set, driven by explicit times on a real store and
engine, beside a cron job; and two schedulers on one PostgreSQL make each run once."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runner.dataset_names import Dataset
from runner.definitions import load_definitions
from runner.engine.engine import Engine
from runner.engine.executor import Message
from runner.errors import DefinitionError
from runner.executors.local.executor import LocalExecutor
from runner.model import DatasetSchedule, Job, RunState, Task, TaskState, Trigger
from runner.scheduling.scheduler import Scheduler
from runner.store.records import RunRecord
from runner.store.store import Store
from tests import pg

T0 = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)
ORDERS = Dataset("postgres://warehouse:5432", "analytics.public.orders")
CUSTOMERS = Dataset("postgres://warehouse:5432", "analytics.public.customers")


def producer(name: str, *outputs: Dataset) -> Job:
    return Job(name=name, tasks={"load": Task("load", command=("true",), outputs=outputs)})


def report(*, any_one: bool = False) -> Job:
    schedule = DatasetSchedule((ORDERS, CUSTOMERS), any=any_one)
    return Job(name="report", tasks={"t": Task("t", command=("true",))}, dataset_schedule=schedule)


class World:
    def __init__(self, store: Store, engine: Engine) -> None:
        self.store = store
        self.engine = engine

    def update(self, job: Job, at: datetime, state: TaskState = TaskState.SUCCESS) -> None:
        """A run of ``job`` whose one attempt ends in ``state`` at ``at``."""
        run = self.store.create_run(job, at, Trigger.MANUAL, at)
        assert run is not None
        attempt = self.store.start_attempt(run, "load", at)
        assert attempt is not None
        self.store.finish_attempt(attempt, state, at)
        self.store.mark_run_finished(run, RunState(state.value), at)

    def runs(self, job: str = "report") -> list[RunRecord]:
        return sorted(self.store.list_runs(job=job, limit=1000), key=lambda r: r.logical_time)


def make_world(store: Store, tmp_path: Path) -> tuple[World, Callable[[], None]]:
    messages: queue.SimpleQueue[Message] = queue.SimpleQueue()
    engine = Engine(store, LocalExecutor(messages), messages, log_dir=tmp_path / "logs")
    return World(store, engine), engine.close


@pytest.fixture
def world(store: Store, tmp_path: Path) -> Iterator[World]:
    made, close = make_world(store, tmp_path)
    yield made
    close()


def test_a_job_runs_once_when_all_its_datasets_were_updated(world: World) -> None:
    orders, customers, job = producer("orders", ORDERS), producer("customers", CUSTOMERS), report()
    cron = Job(name="tick", tasks={"t": Task("t", command=("true",))}, schedule="* * * * *")
    world.store.sync_jobs([orders, customers, job, cron], T0)
    scheduler = Scheduler(world.store, world.engine, {j.name: j for j in (job, cron)}, now=T0)

    world.update(orders, T0 + timedelta(seconds=10))
    world.update(customers, T0 + timedelta(seconds=20), TaskState.FAILED)  # not an update
    scheduler.tick(T0 + timedelta(seconds=30))
    assert world.runs() == []

    world.update(orders, T0 + timedelta(seconds=40))  # orders again: still one set
    world.update(customers, T0 + timedelta(seconds=50))
    for second in (61, 62, 63):
        scheduler.tick(T0 + timedelta(seconds=second))
    world.engine.run_until_done()
    (run,) = world.runs()
    assert run.trigger is Trigger.DATASET
    assert run.logical_time == T0 + timedelta(seconds=50)  # when the set completed
    assert run.state is RunState.SUCCESS
    assert [r.trigger for r in world.runs("tick")] == [Trigger.SCHEDULE]  # cron alongside

    world.update(customers, T0 + timedelta(seconds=70))  # only one of the two
    scheduler.tick(T0 + timedelta(seconds=80))
    assert len(world.runs()) == 1
    world.update(orders, T0 + timedelta(seconds=90))
    scheduler.tick(T0 + timedelta(seconds=95))
    world.engine.run_until_done()
    assert [r.logical_time for r in world.runs()] == [
        T0 + timedelta(seconds=50),
        T0 + timedelta(seconds=90),
    ]


def test_with_any_each_update_makes_a_run_and_a_restart_does_not_redo_one(
    world: World,
) -> None:
    orders, customers, job = (
        producer("orders", ORDERS),
        producer("customers", CUSTOMERS),
        report(any_one=True),
    )
    world.store.sync_jobs([orders, customers, job], T0)
    first = Scheduler(world.store, world.engine, {job.name: job}, now=T0)
    world.update(orders, T0 + timedelta(seconds=1))
    first.tick(T0 + timedelta(seconds=2))
    world.update(customers, T0 + timedelta(seconds=3))
    first.tick(T0 + timedelta(seconds=4))
    world.engine.run_until_done()
    restarted = Scheduler(world.store, world.engine, {job.name: job}, now=T0)
    restarted.tick(T0 + timedelta(seconds=5))
    world.engine.run_until_done()
    assert [r.logical_time for r in world.runs()] == [
        T0 + timedelta(seconds=1),
        T0 + timedelta(seconds=3),
    ]


def test_a_paused_job_runs_for_the_newest_set_when_unpaused(world: World) -> None:
    orders, job = producer("orders", ORDERS), report(any_one=True)
    world.store.sync_jobs([orders, job], T0)
    scheduler = Scheduler(world.store, world.engine, {job.name: job}, now=T0)
    world.store.set_paused("report", True)
    world.update(orders, T0 + timedelta(seconds=1))
    world.update(orders, T0 + timedelta(seconds=2))
    scheduler.tick(T0 + timedelta(seconds=3))
    assert world.runs() == []
    world.store.set_paused("report", False)
    scheduler.tick(T0 + timedelta(seconds=5))
    world.engine.run_until_done()
    assert [r.logical_time for r in world.runs()] == [T0 + timedelta(seconds=2)]


@pytest.fixture
def pg_url() -> Iterator[str]:
    """An empty PostgreSQL schema (skipped without the server, failed on CI)."""
    with pg.temporary_schema() as url:
        yield url


@pytest.mark.postgresql
def test_two_schedulers_on_postgresql_make_one_run_per_update_set(
    pg_url: str, tmp_path: Path
) -> None:
    stores = [Store.open(pg_url) for _ in range(2)]
    worlds = [make_world(s, tmp_path / str(i)) for i, s in enumerate(stores)]
    try:
        a, b = (w for w, _ in worlds)
        orders, customers, job = (
            producer("orders", ORDERS),
            producer("customers", CUSTOMERS),
            (report()),
        )
        a.store.sync_jobs([orders, customers, job], T0)
        schedulers = [Scheduler(w.store, w.engine, {job.name: job}, now=T0) for w in (a, b)]
        for n in range(5):  # five update sets, each ticked by both at once, many times
            at = T0 + timedelta(minutes=n)
            a.update(orders, at + timedelta(seconds=1))
            b.update(customers, at + timedelta(seconds=2))
            barrier = threading.Barrier(2)

            def tick(
                scheduler: Scheduler, at: datetime = at, barrier: threading.Barrier = barrier
            ) -> None:
                barrier.wait()
                for second in range(3, 8):
                    scheduler.tick(at + timedelta(seconds=second))

            threads = [threading.Thread(target=tick, args=(s,)) for s in schedulers]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            for w in (a, b):
                w.engine.run_until_done()
        runs = a.runs()
        assert [r.logical_time for r in runs] == [
            T0 + timedelta(minutes=n, seconds=2) for n in range(5)
        ]
        assert all(r.state is RunState.SUCCESS for r in runs)
    finally:
        for _, close in worlds:
            close()
        for s in stores:
            s.close()


def test_yaml_declares_a_data_aware_schedule_and_bad_ones_name_the_key(tmp_path: Path) -> None:
    path = tmp_path / "jobs.yaml"
    path.write_text(
        'jobs:\n  report:\n    command: ["true"]\n    schedule:\n'
        "      datasets: [postgres://warehouse:5432/analytics.public.orders,\n"
        "                 {namespace: file, name: /data/x.csv}]\n      any: true\n"
    )
    job = load_definitions([path]).jobs["report"]
    assert job.schedule is None
    assert job.dataset_schedule == DatasetSchedule((ORDERS, Dataset("file", "/data/x.csv")), True)
    path.write_text(
        'jobs:\n  report:\n    command: ["true"]\n    schedule: {datasets: [x], anny: true}\n'
    )
    with pytest.raises(DefinitionError, match=r"unknown key 'anny' \(did you mean 'any'\?\)"):
        load_definitions([path])
    path.write_text('jobs:\n  report:\n    command: ["true"]\n    schedule: {datasets: []}\n')
    with pytest.raises(
        DefinitionError, match=r"key 'schedule\.datasets': a data-aware schedule names"
    ):
        load_definitions([path])
