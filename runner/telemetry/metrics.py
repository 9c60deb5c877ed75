"""runwatch's Prometheus metrics, derived from the event log.

Counters and histograms count the events consumed since this process started (they
start again at a restart, which ``rate()`` handles); gauges are rebuilt from the store
at start and kept current by the events after it. The names and labels are a contract
that the Grafana dashboards build on. Labels stay bounded: job, task, status — never a
run id or a time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Protocol

from prometheus_client.registry import CollectorRegistry

from runner import scheduler_liveness
from runner.events import (
    AttemptCancelled,
    AttemptFailed,
    AttemptSucceeded,
    AttemptTimedOut,
    Event,
    RunCancelled,
    RunFailed,
    RunStarted,
    RunSucceeded,
    TaskSkipped,
    TaskUpstreamFailed,
)
from runner.model import logical_task
from runner.store import telemetry_reads as queries
from runner.store.store import Store
from runner.telemetry.exposition import FamiliesCollector
from runner.telemetry.families import (
    CounterFamily,
    Family,
    GaugeFamily,
    HistogramFamily,
    InfoFamily,
    TraceExemplar,
)
from runner.telemetry.ids import is_trace_id
from runner.telemetry.version import runwatch_version

DURATION_BUCKETS = (
    0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0,
    21600.0,
)  # fmt: skip
"""10 ms … 6 h, for run and attempt durations."""
LAG_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
"""How late a scheduled run started after its fire time."""
RUN_STATUSES = ("success", "failed", "cancelled")
"""Heartbeats named ``scheduler…`` in the store feed the scheduler heartbeat gauge."""

_RUN_ENDS: dict[type[Event], str] = {
    RunSucceeded: "success",
    RunFailed: "failed",
    RunCancelled: "cancelled",
}
_ATTEMPT_ENDS: dict[type[Event], str] = {
    AttemptSucceeded: "success",
    AttemptFailed: "failed",
    AttemptTimedOut: "timed_out",
    AttemptCancelled: "cancelled",
}
_TASK_ENDS: dict[type[Event], str] = {
    TaskSkipped: "skipped",
    TaskUpstreamFailed: "upstream_failed",
}


class JobFacts(Protocol):
    """What job info needs of a job (a ``Job`` or a stored ``JobRecord``)."""

    @property
    def name(self) -> str: ...
    @property
    def owner(self) -> str | None: ...
    @property
    def schedule(self) -> str | None: ...
    @property
    def timezone(self) -> str: ...


def _epoch(moment: datetime) -> float:
    return moment.timestamp()


class MetricsCollector:
    """Holds the metric families in ``registry`` and updates them from events and facts.

    Thread-safe: the scrape thread consumes and renders while the scheduler sets the
    heartbeat and next-run times.
    """

    def __init__(self, registry: CollectorRegistry, *, version: str | None = None) -> None:
        self.registry = registry
        self.lock = threading.Lock()
        self.job_runs = CounterFamily(
            "runwatch_job_runs", "Runs finished, by final status.", ("job", "status")
        )
        self.task_attempts = CounterFamily(
            "runwatch_task_attempts",
            "Task attempts ended, by status (also tasks skipped or upstream_failed).",
            ("job", "task", "status"),
        )
        self.task_retries = CounterFamily(
            "runwatch_task_retries", "Failed attempts that will be retried.", ("job", "task")
        )
        self.job_duration = HistogramFamily(
            "runwatch_job_duration_seconds",
            "Wall time of finished runs.",
            ("job",),
            buckets=DURATION_BUCKETS,
        )
        self.task_duration = HistogramFamily(
            "runwatch_task_duration_seconds",
            "Wall time of ended task attempts.",
            ("job", "task"),
            buckets=DURATION_BUCKETS,
        )
        self.last_success = GaugeFamily(
            "runwatch_job_last_success_timestamp_seconds",
            "When the job's latest successful run finished.",
            ("job",),
        )
        self.last_run = GaugeFamily(
            "runwatch_job_last_run_timestamp_seconds",
            "When the job's latest run started.",
            ("job",),
        )
        self.next_run = GaugeFamily(
            "runwatch_job_next_run_timestamp_seconds",
            "When the scheduler will next start the job.",
            ("job",),
        )
        self.last_run_failed = GaugeFamily(
            "runwatch_job_last_run_failed",
            "1 when the job's latest finished run failed, else 0.",
            ("job",),
        )
        self.runs_in_progress = GaugeFamily(
            "runwatch_runs_in_progress", "Runs of the job now running.", ("job",)
        )
        self.scheduler_lag = HistogramFamily(
            "runwatch_scheduler_lag_seconds",
            "How long after its fire time a scheduled run started.",
            buckets=LAG_BUCKETS,
        )
        self.scheduler_heartbeat = GaugeFamily(
            "runwatch_scheduler_heartbeat_timestamp_seconds",
            "When the scheduler last showed it was alive.",
        )
        self.spool_rejected = GaugeFamily(
            "runwatch_spool_rejected_files",
            "Spooled results of wrapped runs the store refused for good (in spool/rejected).",
        )
        self.job_info = InfoFamily(
            "runwatch_job", "Facts about each loaded job.", ("job", "owner", "schedule", "timezone")
        )
        self.build_info = InfoFamily("runwatch_build", "The running runwatch.", ("version",))
        self.build_info.replace([(version or runwatch_version(),)])
        self._running: dict[str, set[int]] = {}
        self._last_heartbeat: float | None = None
        registry.register(FamiliesCollector(self.families(), self.lock))

    def families(self) -> list[Family]:
        """Every family, in exposition order."""
        return [
            self.job_runs,
            self.task_attempts,
            self.task_retries,
            self.job_duration,
            self.task_duration,
            self.last_success,
            self.last_run,
            self.next_run,
            self.last_run_failed,
            self.runs_in_progress,
            self.scheduler_lag,
            self.scheduler_heartbeat,
            self.spool_rejected,
            self.job_info,
            self.build_info,
        ]

    # -- events ---------------------------------------------------------------------

    def consume(
        self, events: Iterable[Event], *, trace_ids: Mapping[int, str] | None = None
    ) -> None:
        """Apply events, oldest first; ``trace_ids`` (run id → trace id) become exemplars."""
        with self.lock:
            for event in events:
                self._apply(event, trace_ids or {})

    def _apply(self, event: Event, trace_ids: Mapping[int, str]) -> None:
        kind = type(event)
        job = event.job
        if isinstance(event, RunStarted):
            self._max(self.last_run, job, _epoch(event.at))
            if event.run_id is not None:
                self._running_add(job, event.run_id)
            if event.lag_seconds is not None:
                self.scheduler_lag.observe(value=max(0.0, event.lag_seconds))
        elif kind in _RUN_ENDS:
            status = _RUN_ENDS[kind]
            self.job_runs.inc(job, status)
            duration = float(getattr(event, "duration_seconds", 0.0))
            self.job_duration.observe(
                job, value=duration, exemplar=_exemplar(event, duration, trace_ids)
            )
            if status == "success":
                self._max(self.last_success, job, _epoch(event.at))
            self.last_run_failed.set(job, value=1.0 if status == "failed" else 0.0)
            if event.run_id is not None:
                self._running_discard(job, event.run_id)
        elif kind in _ATTEMPT_ENDS:
            task = logical_task(event.task or "")  # instances count as their task: flat labels
            self.task_attempts.inc(job, task, _ATTEMPT_ENDS[kind])
            duration = float(getattr(event, "duration_seconds", 0.0))
            self.task_duration.observe(
                job, task, value=duration, exemplar=_exemplar(event, duration, trace_ids)
            )
            if getattr(event, "will_retry", False):
                self.task_retries.inc(job, task)
        elif kind in _TASK_ENDS:
            self.task_attempts.inc(job, logical_task(event.task or ""), _TASK_ENDS[kind])

    def _max(self, family: GaugeFamily, job: str, value: float) -> None:
        current = family.get(job)
        if current is None or value > current:
            family.set(job, value=value)

    def _running_add(self, job: str, run_id: int) -> None:
        running = self._running.setdefault(job, set())
        running.add(run_id)
        self.runs_in_progress.set(job, value=len(running))

    def _running_discard(self, job: str, run_id: int) -> None:
        running = self._running.setdefault(job, set())
        running.discard(run_id)
        self.runs_in_progress.set(job, value=len(running))

    # -- the store ------------------------------------------------------------------

    def rebuild(self, store: Store) -> int:
        """Set the gauges (and job info) from the store; return the event id to consume after.

        The cursor is read first: events appended meanwhile are applied on top, and every
        gauge update is idempotent, so none is lost or counted twice.
        """
        cursor = store.last_event_id()
        gauges = queries.job_gauges(store)
        running = queries.running_runs(store)
        heartbeat = queries.last_heartbeat(store, scheduler_liveness.HEARTBEAT_PREFIX)
        jobs = store.list_jobs()
        with self.lock:
            for row in gauges:
                if row.last_success_at is not None:
                    self._max(self.last_success, row.job, row.last_success_at)
                if row.last_run_at is not None:
                    self._max(self.last_run, row.job, row.last_run_at)
                if row.last_run_failed is not None:
                    self.last_run_failed.set(row.job, value=float(row.last_run_failed))
            self._running.clear()
            self.runs_in_progress.clear()
            for job in {g.job for g in gauges} | {j.name for j in jobs}:
                self.runs_in_progress.set(job, value=0)
            for run_id, job in running:
                self._running_add(job, run_id)
            if heartbeat is not None:
                self._set_heartbeat(heartbeat)
        self.set_jobs(jobs)
        return cursor

    # -- facts from definitions and the scheduler -----------------------------------

    def set_jobs(
        self,
        jobs: Iterable[JobFacts],
        next_fire_times: Mapping[str, datetime | None] | None = None,
    ) -> None:
        """Make these the loaded jobs: job info, zeroed run counters and next-run times."""
        jobs = list(jobs)
        with self.lock:
            self.job_info.replace(
                (j.name, j.owner or "", j.schedule or "", j.timezone) for j in jobs
            )
            for job in jobs:
                for status in RUN_STATUSES:
                    self.job_runs.ensure(job.name, status)
                if job.name not in self._running:
                    self._running[job.name] = set()
                    self.runs_in_progress.set(job.name, value=0)
        for name, at in (next_fire_times or {}).items():
            self.set_next_run(name, at)

    def set_next_run(self, job: str, at: datetime | None) -> None:
        """The scheduler's next fire time for ``job`` (None: not scheduled, series removed)."""
        with self.lock:
            if at is None:
                self.next_run.remove(job)
            else:
                self.next_run.set(job, value=_epoch(at))

    def set_spool_rejected(self, count: int) -> None:
        """How many spooled results wait in ``spool/rejected`` for a person."""
        with self.lock:
            self.spool_rejected.set(value=float(count))

    def heartbeat(self, at: datetime) -> None:
        """The scheduler is alive at ``at``."""
        with self.lock:
            self._set_heartbeat(_epoch(at))

    def _set_heartbeat(self, epoch: float) -> None:
        if self._last_heartbeat is None or epoch > self._last_heartbeat:
            self._last_heartbeat = epoch
            self.scheduler_heartbeat.set(value=epoch)

    @property
    def last_heartbeat_at(self) -> datetime | None:
        """The latest heartbeat seen, for health checks."""
        epoch = self._last_heartbeat
        return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


def _exemplar(event: Event, value: float, trace_ids: Mapping[int, str]) -> TraceExemplar | None:
    trace_id = getattr(event, "trace_id", None)
    if not trace_id and event.run_id is not None:
        trace_id = trace_ids.get(event.run_id)
    if not is_trace_id(trace_id):  # a stored id may have come from a client
        return None
    return TraceExemplar(str(trace_id), value, round(_epoch(event.at), 3))
