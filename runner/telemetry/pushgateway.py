"""Push a job's metrics to a Prometheus Pushgateway at the end of a run.

For ``RUNWATCH_PUSHGATEWAY_URL`` users: cron jobs wrapped without a ``serve`` daemon to
scrape them. The push is a POST (``pushadd``) to the group ``job=<job>``: it replaces
only the metrics it carries, so a failed run leaves the last success time of an
earlier run in place. Counters mean something across pushes only when cumulative, so
with a store they are the job's totals from it; the duration histograms describe the
pushed run. Scrape the Pushgateway with ``honor_labels: true``: the ``job`` label is
the runwatch job.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from prometheus_client.exposition import pushadd_to_gateway
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import CollectorRegistry

from runner.events import Event
from runner.store import telemetry_reads as queries
from runner.store.store import Store
from runner.telemetry.exposition import FamilyMetric
from runner.telemetry.metrics import RUN_STATUSES, MetricsCollector

logger = logging.getLogger(__name__)

PUSH_TIMEOUT_SECONDS = 10.0


class _Pushed:
    """The collector's families that have series: an empty family would wipe the
    Pushgateway's copy of it."""

    def __init__(self, collector: MetricsCollector) -> None:
        self._collector = collector

    def collect(self) -> Iterator[Metric]:
        for family in self._collector.families():
            if any(True for _ in family.series()):
                yield FamilyMetric(family, self._collector.lock)


def run_registry(
    job: str, events_of_run: Iterable[Event], *, store: Store | None = None
) -> CollectorRegistry:
    """The registry a push sends: metrics of the run's events (counters totalled from
    ``store`` when given)."""
    collector = MetricsCollector(CollectorRegistry())
    events = [e for e in events_of_run if e.job == job]
    trace_ids = {}
    if store is not None:
        run_ids = {e.run_id for e in events if e.run_id is not None}
        trace_ids = queries.trace_ids(store, run_ids)
    collector.consume(events, trace_ids=trace_ids)
    if store is not None:
        _use_totals(collector, job, queries.job_totals(store, job))
    pushed = CollectorRegistry()
    pushed.register(_Pushed(collector))
    return pushed


def push_run_metrics(
    url: str,
    job: str,
    events_of_run: Iterable[Event],
    *,
    store: Store | None = None,
    timeout: float = PUSH_TIMEOUT_SECONDS,
) -> bool:
    """Push the run's metrics to the Pushgateway at ``url``; False (logged) when it fails.

    Never raises: a Pushgateway that is down must not fail the run it reports on.
    """
    try:
        registry = run_registry(job, events_of_run, store=store)
        pushadd_to_gateway(url, job=job, registry=registry, timeout=timeout)
    except Exception as exc:
        logger.warning(
            "metrics: push to the Pushgateway failed: %s", exc, extra={"job": job}
        )  # the URL may hold credentials: not logged
        return False
    return True


def _use_totals(collector: MetricsCollector, job: str, totals: queries.JobTotals) -> None:
    with collector.lock:
        collector.job_runs.clear()
        for status in RUN_STATUSES:
            collector.job_runs.inc(job, status, amount=totals.runs.get(status, 0))
        collector.task_attempts.clear()
        for (task, status), count in totals.attempts.items():
            collector.task_attempts.inc(job, task, status, amount=count)
        collector.task_retries.clear()
        for task, count in totals.retries.items():
            collector.task_retries.inc(job, task, amount=count)
