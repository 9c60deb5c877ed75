"""``runwatch_openlineage_events_total{status}``: what the emitter did with the RunEvents —
``sent``, ``failed`` (the client raised: endpoint down or refusing, after its retries)
and ``dropped`` (the queue was full). Served by ``serve`` while lineage is on."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, Metric

from runner.lineage.emitter import LineageEmitter

STATUSES = ("sent", "failed", "dropped")


class LineageMetrics:
    """A prometheus_client collector reading the emitter's counters at scrape time."""

    def __init__(self, emitter: LineageEmitter) -> None:
        self._emitter = emitter

    def collect(self) -> Iterator[Metric]:
        """The one family, a series per status."""
        family = CounterMetricFamily(
            "runwatch_openlineage_events",
            "OpenLineage RunEvents by outcome: sent, failed (after the client's retries), "
            "dropped (queue full).",
            labels=("status",),
        )
        for status in STATUSES:
            family.add_metric((status,), getattr(self._emitter, status))
        yield family
