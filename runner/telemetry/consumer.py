"""The metrics consumer: follows the event log with a cursor and serves scrapes.

A scrape reads only the events appended since the previous one (an index range on the
event id), so its cost does not grow with the history in the store. Give it a store
of its own (its own connection): the engine's connection holds open write
transactions, and reading through it could count events that are later rolled back.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict

from runner.events import (
    AttemptCancelled,
    AttemptFailed,
    AttemptSucceeded,
    AttemptTimedOut,
    Event,
    RunCancelled,
    RunFailed,
    RunSucceeded,
)
from runner.store import telemetry_reads as queries
from runner.store.store import Store
from runner.telemetry import exposition
from runner.telemetry.metrics import MetricsCollector

logger = logging.getLogger(__name__)

BATCH_SIZE = 1000
TRACE_CACHE_SIZE = 4096
"""Trace ids of recent runs kept in memory, to attach exemplars without a query each time."""
_WITH_DURATION = (
    RunSucceeded,
    RunFailed,
    RunCancelled,
    AttemptSucceeded,
    AttemptFailed,
    AttemptTimedOut,
    AttemptCancelled,
)


class MetricsConsumer:
    """Keeps a collector current with the event log; ``exposition`` is the /metrics body."""

    def __init__(
        self, store: Store, collector: MetricsCollector, *, batch_size: int = BATCH_SIZE
    ) -> None:
        self.store = store
        self.collector = collector
        self.batch_size = batch_size
        self.cursor: int | None = None
        self.events_read = 0
        """Events read from the store so far (a test's measure of the work done)."""
        self._lock = threading.Lock()
        self._trace_ids: OrderedDict[int, str] = OrderedDict()

    def start(self) -> None:
        """Rebuild the gauges from the store and set the cursor to the newest event."""
        with self._lock:
            self.cursor = self.collector.rebuild(self.store)

    def poll(self) -> int:
        """Apply the events appended since the last poll; return how many. Never raises:
        a store error is logged and the next poll tries again from the same cursor."""
        with self._lock:
            if self.cursor is None:
                try:
                    self.cursor = self.collector.rebuild(self.store)
                except Exception:
                    logger.exception("metrics: cannot rebuild the gauges from the store")
                    return 0
            applied = 0
            try:
                while True:
                    events = self.store.events_after(self.cursor, limit=self.batch_size)
                    self.events_read += len(events)
                    if not events:
                        break
                    self.collector.consume(events, trace_ids=self._traces_of(events))
                    self.cursor = events[-1].id
                    applied += len(events)
                    if len(events) < self.batch_size:
                        break
            except Exception:
                logger.exception("metrics: reading the event log after id %s failed", self.cursor)
            return applied

    def exposition(self, openmetrics: bool) -> list[bytes]:
        """Catch up with the event log, then render the registry (as chunks)."""
        self.poll()
        return exposition.render(self.collector.registry, openmetrics=openmetrics)

    def _traces_of(self, events: list[Event]) -> dict[int, str]:
        wanted = {
            e.run_id for e in events if isinstance(e, _WITH_DURATION) and e.run_id is not None
        }
        missing = [r for r in wanted if r not in self._trace_ids]
        if missing:
            try:
                found = queries.trace_ids(self.store, missing)
            except Exception:
                logger.exception("metrics: cannot read trace ids; exemplars left out")
                found, missing = {}, []
            for run_id in missing:  # "" remembers a run without a trace: no query next time
                self._trace_ids[run_id] = found.get(run_id, "")
            while len(self._trace_ids) > TRACE_CACHE_SIZE:
                self._trace_ids.popitem(last=False)
        return {r: self._trace_ids[r] for r in wanted if self._trace_ids.get(r)}
