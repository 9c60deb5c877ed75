"""Metrics derived from the event log: served at /metrics, rebuilt after a restart, cheap
per scrape, pushed to a Pushgateway."""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text

from runner.model import Job, RunState, TaskState, Trigger
from runner.store.records import RunRecord
from runner.store.store import Store
from runner.telemetry.consumer import MetricsConsumer
from runner.telemetry.health import HeartbeatHealth
from runner.telemetry.metrics import MetricsCollector
from runner.telemetry.pushgateway import push_run_metrics
from tests.runner.telemetry.conftest import Harness, Traced, job, sh
from tests.storesql import sql

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


def scrape(url: str, *, openmetrics: bool = False) -> tuple[str, dict[str, Metric]]:
    accept = "application/openmetrics-text; version=1.0.0" if openmetrics else "text/plain"
    request = urllib.request.Request(f"{url}/metrics", headers={"Accept": accept})
    with urllib.request.urlopen(request, timeout=10) as response:
        content_type = response.headers["Content-Type"]
        text = response.read().decode()
    parse = parse_openmetrics if openmetrics else parse_text
    return content_type, {family.name: family for family in parse(text)}


def values(family: Metric, suffix: str = "") -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for s in family.samples
        if s.name == family.name + suffix
    }


def one(family: Metric, suffix: str = "", **labels: str) -> float:
    found = values(family, suffix).get((family.name + suffix, tuple(sorted(labels.items()))))
    assert found is not None, (family.name, labels, values(family, suffix))
    return found


def epoch(moment: datetime | None) -> float:
    assert moment is not None
    return moment.timestamp()


@pytest.fixture
def metrics_of(registry: CollectorRegistry) -> Iterator[Callable[[str], MetricsConsumer]]:
    """A consumer on its own connection to the store at a URL, started."""
    opened: list[Store] = []

    def make(db_url: str) -> MetricsConsumer:
        store = Store.open(db_url, migrate=False, recover=False)
        opened.append(store)
        consumer = MetricsConsumer(store, MetricsCollector(registry, version="1.2.3"))
        consumer.start()
        return consumer

    yield make
    for store in opened:
        store.close()


def test_every_family_has_the_values_of_the_known_runs_when_scraped(
    traced: Traced,
    engine_with: Callable[..., Harness],
    metrics_of: Callable[[str], MetricsConsumer],
    tmp_path: Path,
) -> None:
    from runner.server.http_api import telemetry_server

    harness = engine_with(traced.observer)
    consumer = metrics_of(harness.db_url)
    collector = consumer.collector
    once = tmp_path / "once"
    etl = job(
        sh("extract", "true"),
        sh("load", f"[ -e {once} ] || {{ touch {once}; exit 1; }}", after=("extract",),
           retries=1, retry_delay=0.01),
        owner="data", schedule="0 2 * * *", timezone="Europe/Paris",
    )  # fmt: skip
    report = job(sh("build", "exit 1"), sh("send", "true", after=("build",)), name="report")
    cleanup = job(sh("maybe", "exit 99", skip_exit_code=99), name="cleanup")
    etl_run = harness.run(etl)
    report_run = harness.run(report)
    harness.run(cleanup, trigger=Trigger.SCHEDULE)
    collector.set_jobs([etl, report, cleanup], {"etl": T0, "report": None})
    collector.heartbeat(T0)
    server = telemetry_server(
        "127.0.0.1:0",
        render=consumer.exposition,
        health=HeartbeatHealth(lambda: collector.last_heartbeat_at),
    )
    with server:
        content_type, families = scrape(server.url)
        om_type, om_families = scrape(server.url, openmetrics=True)

    assert content_type.startswith("text/plain; version=0.0.4")
    assert values(families["runwatch_job_runs"], "_total") == {
        ("runwatch_job_runs_total", (("job", j), ("status", s))): float(s == ok)
        for j, ok in (("etl", "success"), ("report", "failed"), ("cleanup", "success"))
        for s in ("success", "failed", "cancelled")
    }
    assert values(families["runwatch_task_attempts"], "_total") == {
        ("runwatch_task_attempts_total", (("job", j), ("status", s), ("task", t))): 1.0
        for j, t, s in (
            ("etl", "extract", "success"),
            ("etl", "load", "failed"),
            ("etl", "load", "success"),
            ("report", "build", "failed"),
            ("report", "send", "upstream_failed"),
            ("cleanup", "maybe", "skipped"),
        )
    }
    assert values(families["runwatch_task_retries"], "_total") == {
        ("runwatch_task_retries_total", (("job", "etl"), ("task", "load"))): 1.0
    }
    job_duration = families["runwatch_job_duration_seconds"]
    assert one(job_duration, "_count", job="etl") == 1
    assert one(job_duration, "_sum", job="etl") == pytest.approx(etl_run.duration_seconds, abs=1e-3)
    assert one(job_duration, "_bucket", job="etl", le="+Inf") == 1
    assert one(job_duration, "_bucket", job="etl", le="21600.0") == 1
    task_duration = families["runwatch_task_duration_seconds"]
    assert one(task_duration, "_count", job="etl", task="load") == 2
    assert one(task_duration, "_count", job="report", task="build") == 1
    assert (
        "runwatch_task_duration_seconds_count",
        (("job", "report"), ("task", "send")),
    ) not in values(task_duration, "_count")
    last_success = values(families["runwatch_job_last_success_timestamp_seconds"])
    assert last_success[
        ("runwatch_job_last_success_timestamp_seconds", (("job", "etl"),))
    ] == pytest.approx(epoch(etl_run.finished_at), abs=1e-3)
    assert ("runwatch_job_last_success_timestamp_seconds", (("job", "report"),)) not in last_success
    assert one(families["runwatch_job_last_run_timestamp_seconds"], job="report") == pytest.approx(
        epoch(report_run.started_at), abs=1e-3
    )
    assert one(families["runwatch_job_last_run_failed"], job="report") == 1
    assert one(families["runwatch_job_last_run_failed"], job="etl") == 0
    assert one(families["runwatch_job_last_run_failed"], job="cleanup") == 0
    assert {v for v in values(families["runwatch_runs_in_progress"]).values()} == {0.0}
    assert values(families["runwatch_job_next_run_timestamp_seconds"]) == {
        ("runwatch_job_next_run_timestamp_seconds", (("job", "etl"),)): T0.timestamp()
    }
    lag = families["runwatch_scheduler_lag_seconds"]
    assert one(lag, "_count") == 1
    assert 0 <= one(lag, "_sum") < 5
    assert one(families["runwatch_scheduler_heartbeat_timestamp_seconds"]) == T0.timestamp()
    info = [dict(labels) for (_, labels) in values(families["runwatch_job_info"])]
    assert sorted(info, key=lambda i: i["job"]) == [
        {"job": "cleanup", "owner": "", "schedule": "", "timezone": "UTC"},
        {"job": "etl", "owner": "data", "schedule": "0 2 * * *", "timezone": "Europe/Paris"},
        {"job": "report", "owner": "", "schedule": "", "timezone": "UTC"},
    ]
    assert set(values(families["runwatch_job_info"]).values()) == {1.0}
    assert one(families["runwatch_build_info"], version="1.2.3") == 1

    assert om_type.startswith("application/openmetrics-text")
    exemplars = {
        (s.labels["job"], s.labels["task"]): s.exemplar.labels["trace_id"]
        for s in om_families["runwatch_task_duration_seconds"].samples
        if s.exemplar is not None
    }
    assert exemplars[("etl", "extract")] == etl_run.trace_id
    assert exemplars[("report", "build")] == report_run.trace_id
    run_exemplars = [
        s.exemplar.labels["trace_id"]
        for s in om_families["runwatch_job_duration_seconds"].samples
        if s.exemplar is not None and s.labels["job"] == "etl"
    ]
    assert run_exemplars == [etl_run.trace_id]


# -- the store, written directly: both backends ---------------------------------------


def record_run(
    store: Store,
    job: Job,
    at: datetime,
    tasks: dict[str, TaskState],
    *,
    state: RunState | None,
    trigger: Trigger = Trigger.MANUAL,
) -> RunRecord:
    """A run with one attempt per task, written through the store's API."""
    store.sync_jobs([job], at)
    run = store.create_run(job, at, trigger, at)
    assert run is not None
    store.mark_run_started(run, at + timedelta(seconds=1), trace_id=f"{run.id:032x}")
    for name, task_state in tasks.items():
        attempt = store.start_attempt(run, name, at + timedelta(seconds=1))
        assert attempt is not None
        store.finish_attempt(attempt, task_state, at + timedelta(seconds=3))
    if state is not None:
        failed = [n for n, s in tasks.items() if s.failed]
        store.mark_run_finished(run, state, at + timedelta(seconds=4), failed_tasks=failed)
    return store.get_run(run.id)


def history(store: Store, runs: int, *, start: datetime = T0) -> None:
    etl = job(sh("load", "true"))
    for i in range(runs):
        record_run(
            store, etl, start + timedelta(hours=i), {"load": TaskState.SUCCESS},
            state=RunState.SUCCESS,
        )  # fmt: skip


def test_gauges_are_rebuilt_from_the_store_after_a_restart_and_counters_start_again(
    store: Store, db_url: str, metrics_of: Callable[[str], MetricsConsumer]
) -> None:
    a, b, c = (
        job(sh("t", "true"), name="a"),
        job(sh("t", "true"), name="b"),
        job(sh("t", "true"), name="c"),
    )
    record_run(store, a, T0, {"t": TaskState.SUCCESS}, state=RunState.SUCCESS)
    record_run(store, a, T0 + timedelta(hours=1), {"t": TaskState.FAILED}, state=RunState.FAILED)
    record_run(store, b, T0, {"t": TaskState.SUCCESS}, state=RunState.SUCCESS)
    running = record_run(store, c, T0, {}, state=None)
    store.heartbeat("scheduler-host1", T0 + timedelta(minutes=5))
    store.heartbeat("wrap-host2", T0 + timedelta(hours=9))

    consumer = metrics_of(db_url)  # a process starting after all of that
    registry = consumer.collector.registry

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert (
        value("runwatch_job_last_success_timestamp_seconds", job="a")
        == (T0 + timedelta(seconds=4)).timestamp()
    )
    assert (
        value("runwatch_job_last_run_timestamp_seconds", job="a")
        == (T0 + timedelta(hours=1, seconds=1)).timestamp()
    )
    assert value("runwatch_job_last_run_failed", job="a") == 1
    assert value("runwatch_job_last_run_failed", job="b") == 0
    assert value("runwatch_job_last_run_failed", job="c") is None
    assert value("runwatch_runs_in_progress", job="c") == 1
    assert value("runwatch_runs_in_progress", job="a") == 0
    assert (
        value("runwatch_scheduler_heartbeat_timestamp_seconds")
        == (T0 + timedelta(minutes=5)).timestamp()
    )
    assert value("runwatch_job_runs_total", job="a", status="success") == 0
    assert value("runwatch_job_info", job="c", owner="", schedule="", timezone="UTC") == 1

    store.mark_run_finished(running, RunState.SUCCESS, T0 + timedelta(hours=2))
    assert consumer.poll() == 1
    assert value("runwatch_runs_in_progress", job="c") == 0
    assert value("runwatch_job_runs_total", job="c", status="success") == 1
    assert (
        value("runwatch_job_last_success_timestamp_seconds", job="c")
        == (T0 + timedelta(hours=2)).timestamp()
    )
    assert value("runwatch_job_duration_seconds_count", job="c") == 1


class StatementLog:
    """Every SQL statement a SQLite connection runs."""

    def __init__(self, store: Store) -> None:
        self.statements: list[str] = []
        sql(store)._conn.set_trace_callback(self.statements.append)

    def during(self, action: Callable[[], Any]) -> list[str]:
        self.statements.clear()
        action()
        return list(self.statements)


@pytest.mark.parametrize("runs", [10, 300])
def test_a_scrape_costs_the_same_however_long_the_history(
    tmp_path: Path, runs: int, registry: CollectorRegistry
) -> None:
    url = f"sqlite:///{tmp_path / 'runwatch.db'}"
    with Store.open(url) as writer, Store.open(url, migrate=False, recover=False) as reader:
        history(writer, runs)
        consumer = MetricsConsumer(reader, MetricsCollector(registry))
        consumer.start()
        log = StatementLog(reader)
        first = log.during(lambda: consumer.exposition(False))
        second = log.during(lambda: consumer.exposition(True))
        assert consumer.events_read == 0
        assert len(first) == len(second) == 1
        assert first[0].startswith("SELECT * FROM events WHERE id >")
        history(writer, 1, start=T0 - timedelta(days=1))
        assert consumer.poll() == 5  # queued, started, attempt started, succeeded; run succeeded
        assert consumer.events_read == 5


def test_the_consumer_catches_up_in_batches_and_keeps_its_cursor(
    tmp_path: Path, registry: CollectorRegistry
) -> None:
    url = f"sqlite:///{tmp_path / 'runwatch.db'}"
    with Store.open(url) as writer, Store.open(url, migrate=False, recover=False) as reader:
        consumer = MetricsConsumer(reader, MetricsCollector(registry), batch_size=4)
        consumer.start()
        history(writer, 3)
        assert consumer.poll() == 15
        assert consumer.poll() == 0
        assert consumer.cursor == writer.last_event_id()
        assert (
            registry.get_sample_value(
                "runwatch_job_runs_total", {"job": "etl", "status": "success"}
            )
            == 3
        )


def test_a_broken_store_leaves_the_scrape_serving_what_it_has(
    tmp_path: Path, registry: CollectorRegistry
) -> None:
    url = f"sqlite:///{tmp_path / 'runwatch.db'}"
    reader = Store.open(url)
    consumer = MetricsConsumer(reader, MetricsCollector(registry, version="1.2.3"))
    consumer.start()
    reader.close()
    assert consumer.poll() == 0
    assert b'runwatch_build_info{version="1.2.3"} 1.0' in b"".join(consumer.exposition(False))


# -- Pushgateway --------------------------------------------------------------------


class Pushgateway:
    """Records what is pushed to it, as a Pushgateway on loopback would receive it."""

    def __init__(self) -> None:
        self.pushes: list[tuple[str, str, str]] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                gateway.pushes.append(("POST", self.path, body.decode()))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def pushgateway() -> Iterator[Pushgateway]:
    gateway = Pushgateway()
    yield gateway
    gateway.server.shutdown()
    gateway.server.server_close()


def test_a_run_is_pushed_with_cumulative_counters_and_without_a_stale_success(
    store: Store, pushgateway: Pushgateway
) -> None:
    etl = job(sh("load", "true"), name="etl")
    record_run(store, etl, T0, {"load": TaskState.SUCCESS}, state=RunState.SUCCESS)
    run = record_run(
        store, etl, T0 + timedelta(hours=1), {"load": TaskState.FAILED}, state=RunState.FAILED
    )
    events = [e for e in store.events_after(0) if e.run_id == run.id]

    assert push_run_metrics(pushgateway.url, "etl", events, store=store)

    [(method, path, body)] = pushgateway.pushes
    families = {f.name: f for f in parse_text(body)}
    assert (method, path) == ("POST", "/metrics/job/etl")
    assert one(families["runwatch_job_runs"], "_total", job="etl", status="success") == 1
    assert one(families["runwatch_job_runs"], "_total", job="etl", status="failed") == 1
    assert (
        one(families["runwatch_task_attempts"], "_total", job="etl", task="load", status="failed")
        == 1
    )
    assert one(families["runwatch_job_last_run_failed"], job="etl") == 1
    assert one(families["runwatch_runs_in_progress"], job="etl") == 0
    assert one(families["runwatch_job_duration_seconds"], "_count", job="etl") == 1
    assert (
        "runwatch_job_last_success_timestamp_seconds" not in families
    )  # the gateway keeps the last one
    assert "runwatch_job_next_run_timestamp_seconds" not in families


def test_a_pushgateway_that_is_down_does_not_raise(unused_port: int) -> None:
    assert not push_run_metrics(f"http://127.0.0.1:{unused_port}", "etl", [], timeout=2)
