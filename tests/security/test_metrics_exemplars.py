"""A trace id that a client chose (through a ping report, before or despite validation at
the API) cannot make /metrics invalid OpenMetrics for the Prometheus that scrapes it."""

from __future__ import annotations

import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from runner.events import RunSucceeded
from runner.model import Job, Task, Trigger
from runner.server.http_api import telemetry_server
from runner.store.store import Store
from runner.telemetry.consumer import MetricsConsumer
from runner.telemetry.health import HeartbeatHealth
from runner.telemetry.metrics import MetricsCollector

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)
VALID = "4bf92f3577b34da6a3ce929d0e0e4736"
DURATIONS = (0.005, 0.03, 0.07, 0.3, 0.7, 3.0, 7.0)  # in distinct buckets
HOSTILE = [
    "a" * 200,  # an exemplar label set over OpenMetrics' 128 characters
    'x"} 1 # {trace_id="y',  # quotes and braces
    "00\n# EOF\n",  # a line break and an early end of the exposition
    "é" * 40,  # not hex
    "0" * 32,  # the invalid all-zero trace id
    VALID.upper() + "0",  # 33 characters
]


def scrape_openmetrics(consumer: MetricsConsumer) -> str:
    """GET /metrics in OpenMetrics from a real telemetry server."""
    server = telemetry_server(
        "127.0.0.1:0", render=consumer.exposition, health=HeartbeatHealth(lambda: None)
    )
    accept = {"Accept": "application/openmetrics-text; version=1.0.0"}
    with server:
        request = urllib.request.Request(f"{server.url}/metrics", headers=accept)
        with urllib.request.urlopen(request, timeout=10) as response:
            return str(response.read().decode())


def test_hostile_trace_ids_leave_metrics_valid_openmetrics_and_valid_ones_as_exemplars(
    tmp_path: Path,
) -> None:
    job = Job("etl", {"t": Task("t", command="true")})
    with Store.open(f"sqlite:///{tmp_path / 'runwatch.db'}") as store:
        store.sync_jobs([job], T0)
        consumer = MetricsConsumer(store, MetricsCollector(CollectorRegistry(), version="t"))
        consumer.start()
        for i, trace_id in enumerate([*HOSTILE, VALID]):
            run = store.create_run(job, T0 + timedelta(minutes=i), Trigger.MANUAL, T0)
            assert run is not None
            store.set_trace_id(run.id, trace_id)
            # One run per duration bucket, so every trace id would get a bucket's exemplar.
            store.append(
                RunSucceeded(at=T0, job="etl", run_id=run.id, duration_seconds=DURATIONS[i])
            )

        text = scrape_openmetrics(consumer)

    families = {f.name: f for f in text_string_to_metric_families(text)}  # raises if invalid
    exemplars = [
        s.exemplar.labels["trace_id"]
        for s in families["runwatch_job_duration_seconds"].samples
        if s.exemplar is not None
    ]
    assert exemplars == [VALID]
    assert text.endswith("# EOF\n")
    assert text.count("# EOF") == 1
