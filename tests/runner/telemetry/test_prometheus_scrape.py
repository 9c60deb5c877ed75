"""End to end: a real Prometheus server scrapes the /metrics endpoint (OpenMetrics, with
exemplars) and answers queries about it. Skipped only where the binary is absent."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from runner.model import RunState, TaskState
from runner.server.http_api import telemetry_server
from runner.store.store import Store
from runner.telemetry.consumer import MetricsConsumer
from runner.telemetry.health import HeartbeatHealth
from runner.telemetry.metrics import MetricsCollector
from tests.runner.telemetry.conftest import job, sh
from tests.runner.telemetry.test_metrics import T0, record_run

PROMETHEUS = shutil.which("prometheus")
pytestmark = pytest.mark.skipif(
    PROMETHEUS is None, reason="the prometheus binary is not installed (Debian package prometheus)"
)


def api(base: str, path: str, **params: str) -> Any:
    url = f"{base}/api/v1/{path}?{urllib.parse.urlencode(params)}"
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())["data"]


def wait_for(check: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = check()
        except OSError:
            found = None
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError("Prometheus did not get there in time")
        time.sleep(0.2)


@pytest.fixture
def prometheus(tmp_path: Path, unused_port: int) -> Iterator[tuple[Path, str]]:
    config = tmp_path / "prometheus.yml"
    base = f"http://127.0.0.1:{unused_port}"
    process: subprocess.Popen[bytes] | None = None

    def start(target: str) -> str:
        nonlocal process
        config.write_text(
            "global: {scrape_interval: 1s}\n"
            "scrape_configs:\n"
            "  - job_name: runwatch\n"
            "    honor_labels: true\n"  # our `job` label is the runwatch job
            f"    static_configs: [{{targets: ['{target}']}}]\n"
        )
        assert PROMETHEUS is not None
        process = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'data'}",
             f"--web.listen-address=127.0.0.1:{unused_port}", "--enable-feature=exemplar-storage"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        return base

    yield start  # type: ignore[misc]
    if process is not None:
        process.terminate()
        process.wait(10)


def test_prometheus_scrapes_the_counters_and_the_trace_exemplars(
    prometheus: Any, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'runwatch.db'}"
    with Store.open(url) as writer, Store.open(url, migrate=False, recover=False) as reader:
        consumer = MetricsConsumer(reader, MetricsCollector(CollectorRegistry()))
        consumer.start()
        etl = job(sh("load", "true"))
        record_run(writer, etl, T0, {"load": TaskState.SUCCESS}, state=RunState.SUCCESS)
        run = record_run(
            writer, etl, T0.replace(hour=3), {"load": TaskState.SUCCESS}, state=RunState.SUCCESS
        )
        server = telemetry_server(
            "127.0.0.1:0", render=consumer.exposition, health=HeartbeatHealth(lambda: None)
        )
        with server:
            base = prometheus(f"127.0.0.1:{server.address[1]}")
            query = 'runwatch_job_runs_total{job="etl",status="success"}'
            result = wait_for(lambda: api(base, "query", query=query)["result"])
            since = str(T0.timestamp() - 3600)  # exemplars carry their events' times
            exemplars = wait_for(
                lambda: api(
                    base,
                    "query_exemplars",
                    query="runwatch_task_duration_seconds_bucket",
                    start=since,
                    end=str(time.time()),
                )
            )
    [series] = result
    assert series["metric"]["job"] == "etl"
    assert float(series["value"][1]) == 2
    trace_ids = {e["labels"]["trace_id"] for group in exemplars for e in group["exemplars"]}
    assert run.trace_id in trace_ids
