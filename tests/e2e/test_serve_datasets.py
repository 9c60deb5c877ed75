"""`runwatch serve` with datasets: a data-aware job runs after its producer updates its
dataset, and with OPENLINEAGE_URL set, both jobs' runs reach a local OpenLineage endpoint."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest

from runner.dataset_names import Dataset
from runner.store import datasets
from runner.store.records import RunRecord
from runner.store.store import Store
from tests import pg
from tests.e2e.test_serve import Runwatch, Serve, runs, runwatch, serves
from tests.runner.lineage.endpoint import Endpoint, endpoint

__all__ = ["endpoint", "runwatch", "serves"]  # the fixtures, shared

ORDERS = Dataset("postgres://warehouse:5432", "analytics.public.orders")
JOBS = """
jobs:
  load-orders:
    schedule: "* * * * * */2"
    command: "true"
    outputs: ["postgres://warehouse:5432/analytics.public.orders"]
  orders-report:
    schedule: {datasets: ["postgres://warehouse:5432/analytics.public.orders"]}
    command: "true"
"""


def test_serve_runs_a_data_aware_job_and_emits_openlineage_events(
    tmp_path: Path,
    home: Path,
    runwatch: Runwatch,
    serves: list[Serve],
    endpoint: Endpoint,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENLINEAGE_URL", endpoint.url)
    monkeypatch.setenv("OPENLINEAGE_NAMESPACE", "e2e")
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(JOBS)
    serve = Serve(tmp_path, home, jobs)
    serves.append(serve)

    def reported() -> bool:
        done = [r for r in runs(runwatch, "orders-report") if r["state"] == "success"]
        names = {(e["job"]["name"], e["eventType"]) for e in endpoint.events}
        return bool(done) and ("orders-report", "COMPLETE") in names

    serve.wait_until(reported, "a data-triggered run and its OpenLineage COMPLETE", timeout=60)
    with urllib.request.urlopen(f"http://127.0.0.1:{serve.port}/metrics", timeout=10) as answer:
        metrics = answer.read().decode()
    assert 'runwatch_openlineage_events_total{status="sent"}' in metrics
    assert 'runwatch_openlineage_events_total{status="dropped"} 0.0' in metrics
    assert "runwatch_dataset_last_update_timestamp_seconds{" in metrics
    assert serve.stop() == 0
    report_runs = runs(runwatch, "orders-report")
    assert {r["trigger"] for r in report_runs} == {"dataset"}
    producer_events = [e for e in endpoint.events if e["job"]["name"] == "load-orders.load-orders"]
    assert producer_events, endpoint.events
    assert all(e["job"]["namespace"] == "e2e" for e in endpoint.events)
    assert producer_events[0]["outputs"][0]["name"] == "analytics.public.orders"


@pytest.mark.postgresql
def test_two_serve_processes_on_postgresql_run_a_data_aware_job_once_per_update(
    tmp_path: Path, home: Path, serves: list[Serve]
) -> None:
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(JOBS)
    with pg.temporary_schema() as db_url:
        Store.open(db_url).close()  # migrate once, before the two processes start
        serves.extend(Serve(tmp_path, home, jobs, "--db", db_url) for _ in range(2))
        with Store.open(db_url, migrate=False, recover=False) as store:

            def report_runs() -> list[RunRecord]:
                return store.list_runs(job="orders-report", limit=1000)

            serves[0].wait_until(lambda: len(report_runs()) >= 4, "four data-triggered runs", 90)
            for serve in serves:
                assert serve.stop() == 0
            updates = {u.at for u in datasets.updates_of(store, [ORDERS])}
            times = [r.logical_time for r in report_runs()]
            producer = store.list_runs(job="load-orders", limit=1000)
    assert len(times) == len(set(times))  # never two runs for one update set
    assert set(times) <= updates  # each run is for an update that completed a set
    assert len({r.logical_time for r in producer}) == len(producer)
