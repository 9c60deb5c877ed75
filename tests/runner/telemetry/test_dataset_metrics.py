"""`runwatch_dataset_last_update_timestamp_seconds{namespace,dataset}`: set by the
successful attempts a scrape consumes, and rebuilt from the store after a restart."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client import CollectorRegistry

from runner.dataset_names import Dataset
from runner.model import Job, Task, TaskState, Trigger
from runner.store.datasets import dataset_states
from runner.store.store import Store
from runner.telemetry.consumer import MetricsConsumer
from runner.telemetry.metrics import MetricsCollector
from tests.runner.telemetry.conftest import Harness, job, sh

GAUGE = "runwatch_dataset_last_update_timestamp_seconds"
ORDERS = Dataset("postgres://warehouse:5432", "analytics.public.orders")
REPORT = Dataset("s3://reports", "daily/orders.csv")
T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


def gauge(registry: CollectorRegistry, dataset: Dataset) -> float | None:
    return registry.get_sample_value(
        GAUGE, {"namespace": dataset.namespace, "dataset": dataset.name}
    )


def test_a_scrape_shows_the_update_of_each_output_a_successful_attempt_made(
    engine_with: Callable[..., Harness], registry: CollectorRegistry, tmp_path: Path
) -> None:
    harness = engine_with()
    reader = Store.open(harness.db_url, migrate=False, recover=False)
    consumer = MetricsConsumer(reader, MetricsCollector(registry))
    consumer.start()
    try:
        etl = job(
            sh("load", "true", outputs=(ORDERS,)),
            sh("report", "exit 1", after=("load",), outputs=(REPORT,)),
        )
        harness.run(etl)
        body = b"".join(consumer.exposition(openmetrics=False)).decode()
    finally:
        reader.close()

    (orders,) = [s for s in dataset_states(harness.store) if s.dataset == ORDERS]
    assert orders.last_update is not None
    assert gauge(registry, ORDERS) == orders.last_update.at.timestamp()
    assert gauge(registry, REPORT) is None  # its task failed: not updated
    assert (
        f'{GAUGE}{{namespace="postgres://warehouse:5432",dataset="analytics.public.orders"}}'
        in (body)
    )


def test_the_gauge_is_rebuilt_from_the_store_by_a_process_starting_later(
    store: Store, db_url: str, registry: CollectorRegistry
) -> None:
    load = Task("load", command=("true",), outputs=(ORDERS,))
    etl = Job(name="etl", tasks={"load": load})
    store.sync_jobs([etl], T0)
    for hour in (0, 5):
        run = store.create_run(etl, T0 + timedelta(hours=hour), Trigger.SCHEDULE, T0)
        assert run is not None
        attempt = store.start_attempt(run, "load", T0 + timedelta(hours=hour))
        assert attempt is not None
        store.finish_attempt(attempt, TaskState.SUCCESS, T0 + timedelta(hours=hour, seconds=9))

    reader = Store.open(db_url, migrate=False, recover=False)
    try:
        consumer = MetricsConsumer(reader, MetricsCollector(registry))
        consumer.start()
    finally:
        reader.close()
    assert gauge(registry, ORDERS) == (T0 + timedelta(hours=5, seconds=9)).timestamp()
