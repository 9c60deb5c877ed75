"""Dataset declarations and updates in the store, on every backend: an output is updated
only by a successful attempt, by the engine's store and by wrap's lean writer alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from runner.dataset_names import Dataset
from runner.events import DatasetUpdated
from runner.model import DatasetSchedule, Job, Task, TaskState, Trigger
from runner.store.datasets import dataset_states, declared_by_task
from runner.store.store import Store
from runner.wrap.recorder import record
from runner.wrap.report import JobSpec
from tests.runner.wrap.conftest import finished_report
from tests.storesql import sql

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
ORDERS = Dataset("postgres://warehouse:5432", "analytics.public.orders")
RAW = Dataset("file", "/data/in/orders.csv")


def etl() -> Job:
    load = Task("load", command=("true",), inputs=(RAW,), outputs=(ORDERS,), retries=1)
    report = Task("report", command=("true",), after=("load",), inputs=(ORDERS,))
    return Job(name="etl", tasks={"load": load, "report": report}, owner="data-team")


def test_an_output_is_updated_only_by_a_successful_attempt(store: Store) -> None:
    job = etl()
    store.sync_jobs([job], T0)
    run = store.create_run(job, T0, Trigger.MANUAL, T0)
    assert run is not None

    first = store.start_attempt(run, "load", T0)
    assert first is not None
    store.finish_attempt(first, TaskState.FAILED, T0 + timedelta(seconds=1), will_retry=True)
    (state,) = [s for s in dataset_states(store) if s.dataset == ORDERS]
    assert state.last_update is None
    assert state.producers == ("etl/load",)
    assert state.consumers == ("etl/report",)
    assert state.owners == ("data-team",)

    second = store.start_attempt(run, "load", T0 + timedelta(seconds=2))
    assert second is not None
    store.finish_attempt(second, TaskState.SUCCESS, T0 + timedelta(seconds=3))
    (state,) = [s for s in dataset_states(store) if s.dataset == ORDERS]
    assert state.last_update is not None
    assert (state.last_update.run_id, state.last_update.task) == (run.id, "load")
    assert state.last_update.attempt == 2
    assert state.last_update.at == T0 + timedelta(seconds=3)
    # an input is known (declared) but nothing updates it here
    (raw,) = [s for s in dataset_states(store) if s.dataset == RAW]
    assert raw.last_update is None
    assert raw.producers == ()


def test_a_job_that_stops_declaring_a_dataset_no_longer_produces_it(store: Store) -> None:
    store.sync_jobs([etl()], T0)
    plain = Job(name="etl", tasks={"load": Task("load", command=("true",))})
    store.sync_jobs([plain], T0 + timedelta(hours=1))
    assert dataset_states(store) == []


def test_a_wrapped_run_updates_its_outputs_when_it_succeeds(store: Store) -> None:
    spec = JobSpec("nightly", outputs=(ORDERS,), inputs=(RAW,), owner="ops")
    record(store.spine_connection(), finished_report(exit_codes=(1,), spec=spec))
    (state,) = [s for s in dataset_states(store) if s.dataset == ORDERS]
    assert state.last_update is None
    assert state.producers == ("nightly/nightly",)

    run_id = record(
        store.spine_connection(), finished_report(at=1_800_000_100.0, exit_codes=(1, 0), spec=spec)
    )
    (state,) = [s for s in dataset_states(store) if s.dataset == ORDERS]
    assert state.last_update is not None
    assert (state.last_update.run_id, state.last_update.attempt) == (run_id, 2)


def test_recording_the_same_report_twice_records_one_update(store: Store) -> None:
    report = finished_report(spec=JobSpec("nightly", outputs=(ORDERS,)))
    record(store.spine_connection(), report)
    record(store.spine_connection(), report)
    assert sql(store).scalar("SELECT COUNT(*) FROM dataset_updates") == 1


def dataset_events(store: Store) -> list[DatasetUpdated]:
    return [e for e in store.events_after(0, limit=1000) if isinstance(e, DatasetUpdated)]


def test_each_update_is_a_dataset_updated_event_by_both_writers(store: Store) -> None:
    job = etl()
    store.sync_jobs([job], T0)
    run = store.create_run(job, T0, Trigger.MANUAL, T0)
    assert run is not None
    attempt = store.start_attempt(run, "load", T0)
    assert attempt is not None
    store.finish_attempt(attempt, TaskState.SUCCESS, T0 + timedelta(seconds=1))
    record(store.spine_connection(), finished_report(spec=JobSpec("nightly", outputs=(RAW,))))

    engine_event, wrap_event = dataset_events(store)
    assert (engine_event.job, engine_event.run_id, engine_event.task) == ("etl", run.id, "load")
    assert (engine_event.namespace, engine_event.name) == (ORDERS.namespace, ORDERS.name)
    assert engine_event.attempt == 1
    assert engine_event.at == T0 + timedelta(seconds=1)
    assert (wrap_event.job, wrap_event.task, wrap_event.namespace, wrap_event.name) == (
        "nightly",
        "nightly",
        "file",
        "/data/in/orders.csv",
    )


def test_a_store_that_did_not_load_the_job_still_records_its_outputs(
    store: Store, db_url: str
) -> None:
    job = etl()
    store.sync_jobs([job], T0)
    run = store.create_run(job, T0, Trigger.MANUAL, T0)
    assert run is not None
    attempt = store.start_attempt(run, "load", T0)
    assert attempt is not None
    with Store.open(db_url, migrate=False, recover=False) as other:  # e.g. orphan recovery
        other.finish_attempt(attempt, TaskState.SUCCESS, T0 + timedelta(seconds=1))
    (state,) = [s for s in dataset_states(store) if s.dataset == ORDERS]
    assert state.last_update is not None
    assert state.last_update.run_id == run.id


def test_a_data_aware_schedule_is_declared_as_its_jobs_trigger(store: Store) -> None:
    notify = Job(
        name="notify",
        tasks={"send": Task("send", command=("true",))},
        dataset_schedule=DatasetSchedule((ORDERS, RAW), any=True),
    )
    store.sync_jobs([etl(), notify], T0)
    states = {s.dataset: s for s in dataset_states(store)}
    assert states[ORDERS].consumers == ("etl/report", "notify")
    assert states[RAW].consumers == ("etl/load", "notify")
    assert declared_by_task(store, "notify") == {}  # no task reads them: not lineage inputs
