"""Each run records its own task graph when it is created, and keeps it when the job
changes: on every backend, for the engine's runs and for wrapped ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import create_engine

from runner.model import Job, Task, Trigger
from runner.store.run_graph import run_graph
from runner.store.store import Store
from runner.wrap.recorder import record
from tests.runner.wrap.conftest import finished_report
from tests.storesql import sql

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def etl(edges: dict[str, tuple[str, ...]]) -> Job:
    return Job(name="etl", tasks={t: Task(t, command=("true",), after=a) for t, a in edges.items()})


def graph_of(db_url: str, run_id: int) -> object:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            return run_graph(conn, run_id)
    finally:
        engine.dispose()


def test_a_run_keeps_the_graph_its_job_had_when_the_run_was_created(
    store: Store, db_url: str
) -> None:
    old = etl({"extract": (), "transform": ("extract",), "load": ("transform",)})
    new = etl({"extract": (), "clean": ("extract",), "load": ("extract", "clean")})
    first = store.create_run(old, T0, Trigger.SCHEDULE, T0)
    second = store.create_run(new, T0 + timedelta(hours=1), Trigger.SCHEDULE, T0)
    assert first is not None
    assert second is not None

    assert graph_of(db_url, first.id) == {
        "extract": (),
        "load": ("transform",),
        "transform": ("extract",),
    }
    assert graph_of(db_url, second.id) == {
        "clean": ("extract",),
        "extract": (),
        "load": ("extract", "clean"),
    }


def test_tasks_added_to_a_run_by_a_changed_job_bring_their_edges(store: Store, db_url: str) -> None:
    run = store.create_run(etl({"extract": ()}), T0, Trigger.MANUAL, T0)
    assert run is not None

    store.add_task_rows(run, etl({"extract": (), "load": ("extract",)}), ["load"], T0)

    assert graph_of(db_url, run.id) == {"extract": (), "load": ("extract",)}


def test_a_wrapped_run_is_one_node(store: Store, db_url: str) -> None:
    run_id = record(store.spine_connection(), finished_report(exit_codes=(0,)))
    assert run_id is not None

    assert graph_of(db_url, run_id) == {"nightly": ()}


def test_a_run_recorded_before_graphs_were_kept_has_none(store: Store, db_url: str) -> None:
    run = store.create_run(etl({"extract": (), "load": ("extract",)}), T0, Trigger.MANUAL, T0)
    assert run is not None
    sql(store).execute("UPDATE task_runs SET upstream = NULL WHERE run_id = :id", {"id": run.id})

    assert graph_of(db_url, run.id) is None
    assert graph_of(db_url, run.id + 1000) is None
