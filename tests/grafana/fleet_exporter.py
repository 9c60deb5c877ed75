"""A stand-in for the /metrics of `runwatch serve`: a simulated fleet of jobs.

Every scrape advances the simulation by one run of each job (successes, a flaky task
that is retried, a job whose runs always fail), so counters and histograms move
between scrapes as they do on a busy scheduler. The exposition is rendered by
prometheus_client from a fresh CollectorRegistry, in the format the scraper asks for
(OpenMetrics for Prometheus, with trace-id exemplars on the duration histograms).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.exposition import choose_encoder

logger = logging.getLogger(__name__)

DURATION_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 1800, 3600, 7200, 21600)
LAG_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60)
RUN_STATUSES = ("success", "failed", "cancelled")
SEVERITIES = ("critical", "error", "warning", "info")
VERSION = "0.1.0"


@dataclass(frozen=True)
class SimulatedJob:
    """A job of the simulated fleet and how its runs go."""

    name: str
    owner: str
    schedule: str
    timezone: str
    interval_seconds: float
    tasks: tuple[tuple[str, float], ...]  # (task, typical duration in seconds), in DAG order
    flaky_task: str | None = None  # fails its first attempt of every run, then succeeds
    failing_task: str | None = None  # times out on every attempt: every run fails


FLEET = (
    SimulatedJob(
        "nightly-etl",
        "data-team",
        "0 2 * * *",
        "Europe/Berlin",
        86400,
        (("extract", 40.0), ("transform", 300.0), ("load", 90.0)),
        flaky_task="extract",
    ),
    SimulatedJob(
        "hourly-report",
        "analytics",
        "0 * * * *",
        "UTC",
        3600,
        (("query", 12.0), ("upload", 600.0), ("notify", 0.4)),
        failing_task="upload",
    ),
    SimulatedJob("cleanup-tmp", "platform", "*/5 * * * *", "UTC", 300, (("command", 0.3),)),
)
DATASETS = {
    ("postgres://warehouse:5432", "analytics.public.orders"): 3600.0,
    ("s3://reports", "daily/orders.csv"): 30 * 3600.0,  # past 26h: stale
}
"""Datasets (namespace, name) and how long ago they were last updated."""
RECEIVERS = {"slack-data": "sent", "pagerduty-oncall": "failed"}  # receiver → outcome


class FleetMetrics:
    """The contract's metric families in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.runs = Counter("runwatch_job_runs", "Finished runs.", ["job", "status"], registry=r)
        self.attempts = Counter(
            "runwatch_task_attempts", "Finished attempts.", ["job", "task", "status"], registry=r
        )
        self.retries = Counter("runwatch_task_retries", "Retries.", ["job", "task"], registry=r)
        self.job_duration = Histogram(
            "runwatch_job_duration_seconds",
            "Run duration.",
            ["job"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.task_duration = Histogram(
            "runwatch_task_duration_seconds",
            "Attempt duration.",
            ["job", "task"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.last_success = Gauge(
            "runwatch_job_last_success_timestamp_seconds", "Last success.", ["job"], registry=r
        )
        self.last_run = Gauge(
            "runwatch_job_last_run_timestamp_seconds", "Last run.", ["job"], registry=r
        )
        self.next_run = Gauge(
            "runwatch_job_next_run_timestamp_seconds", "Next fire time.", ["job"], registry=r
        )
        self.last_run_failed = Gauge(
            "runwatch_job_last_run_failed", "Latest run failed.", ["job"], registry=r
        )
        self.in_progress = Gauge("runwatch_runs_in_progress", "Running.", ["job"], registry=r)
        self.lag = Histogram(
            "runwatch_scheduler_lag_seconds", "Scheduler lag.", buckets=LAG_BUCKETS, registry=r
        )
        self.heartbeat = Gauge(
            "runwatch_scheduler_heartbeat_timestamp_seconds", "Scheduler heartbeat.", registry=r
        )
        self.dataset_update = Gauge(
            "runwatch_dataset_last_update_timestamp_seconds",
            "Dataset last updated.",
            ["namespace", "dataset"],
            registry=r,
        )
        # Info families: `runwatch_job_info{…} 1`, of the OpenMetrics info type.
        self.info = Info("runwatch_job", "Job metadata.", ["job"], registry=r)
        self.build = Info("runwatch_build", "Build.", registry=r)
        self.alerts = Gauge("runwatch_alerts_firing", "Firing alerts.", ["severity"], registry=r)
        self.notifications = Counter(
            "runwatch_notifications", "Notifications.", ["receiver", "status"], registry=r
        )


class FleetSimulation:
    """Advances the fleet by one run of every job per scrape and renders the exposition."""

    def __init__(self, jobs: tuple[SimulatedJob, ...] = FLEET, seed: int = 8) -> None:
        self.jobs = jobs
        self.metrics = FleetMetrics()
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._start(time.time())

    def scrape(self, accept: str | None) -> tuple[bytes, str]:
        """Advance one tick and render the metrics in the format `accept` prefers."""
        encoder, content_type = choose_encoder(accept or "")
        with self._lock:
            self._tick(time.time())
            return encoder(self.metrics.registry), content_type

    def _start(self, now: float) -> None:
        m = self.metrics
        m.build.info({"version": VERSION})
        for job in self.jobs:
            m.info.labels(job.name).info(
                {"owner": job.owner, "schedule": job.schedule, "timezone": job.timezone}
            )
            for status in RUN_STATUSES:
                m.runs.labels(job.name, status)
            # The failing job last succeeded three intervals ago: it is stale.
            ago = 3 if job.failing_task else 0.5
            m.last_success.labels(job.name).set(now - ago * job.interval_seconds)
            m.in_progress.labels(job.name).set(1 if job.flaky_task else 0)
        for (namespace, dataset), age in DATASETS.items():
            m.dataset_update.labels(namespace, dataset).set(now - age)
        for receiver in RECEIVERS:
            for status in ("sent", "failed"):
                m.notifications.labels(receiver, status)
        for severity in SEVERITIES:
            m.alerts.labels(severity).set(1 if severity in ("critical", "warning") else 0)

    def _tick(self, now: float) -> None:
        m = self.metrics
        m.heartbeat.set(now)
        for job in self.jobs:
            m.lag.observe(self._jitter(0.02))
            self._run(job, now)
        for receiver, outcome in RECEIVERS.items():
            m.notifications.labels(receiver, outcome).inc()

    def _run(self, job: SimulatedJob, now: float) -> None:
        m = self.metrics
        run_seconds = 0.0
        upstream_failed = False
        for task, typical_seconds in job.tasks:
            if upstream_failed:
                m.attempts.labels(job.name, task, "upstream_failed").inc()
                continue
            outcomes = ["success"]
            if task == job.flaky_task:
                outcomes = ["failed", "success"]
            elif task == job.failing_task:
                outcomes = ["timed_out", "timed_out"]
            for attempt, status in enumerate(outcomes):
                if attempt:
                    m.retries.labels(job.name, task).inc()
                seconds = self._jitter(typical_seconds)
                m.task_duration.labels(job.name, task).observe(seconds, self._exemplar())
                m.attempts.labels(job.name, task, status).inc()
                run_seconds += seconds
            upstream_failed = outcomes[-1] != "success"
        failed = upstream_failed
        m.job_duration.labels(job.name).observe(run_seconds, self._exemplar())
        m.runs.labels(job.name, "failed" if failed else "success").inc()
        m.last_run.labels(job.name).set(now)
        m.last_run_failed.labels(job.name).set(1 if failed else 0)
        if not failed:
            m.last_success.labels(job.name).set(now)
        m.next_run.labels(job.name).set(now + job.interval_seconds)

    def _jitter(self, seconds: float) -> float:
        return seconds * self._random.uniform(0.8, 1.25)

    def _exemplar(self) -> dict[str, str]:
        return {"trace_id": f"{self._random.getrandbits(128):032x}"}


class _MetricsHandler(BaseHTTPRequestHandler):
    server: _FleetServer

    def do_GET(self) -> None:
        if self.path.partition("?")[0] != "/metrics":
            self.send_error(404)
            return
        body, content_type = self.server.fleet.scrape(self.headers.get("Accept"))
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        logger.debug(format, *args)


class _FleetServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fleet: FleetSimulation) -> None:
        super().__init__(("127.0.0.1", 0), _MetricsHandler)
        self.fleet = fleet


@contextmanager
def serving_fleet(fleet: FleetSimulation) -> Iterator[str]:
    """Serve the fleet's /metrics on a loopback port; yield its host:port."""
    server = _FleetServer(fleet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
