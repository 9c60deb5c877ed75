"""Follows the event log with a cursor of its own (``openlineage``) and offers the
RunEvents of runs and attempts to the emitter.

The cursor is held while a batch is read, as the alert engine holds its own, so several
``serve`` processes on one store emit each event once; it starts at the newest event
when lineage is first turned on (no flood of history). An event is offered after the
cursor moved past it: a process killed in between loses it rather than sending it twice.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from runner.clock import utcnow
from runner.lineage.emitter import LineageEmitter
from runner.lineage.run_events import Declared, run_event
from runner.store import cursors, datasets
from runner.store.store import Store

logger = logging.getLogger(__name__)

CURSOR = "openlineage"
BATCH_SIZE = 500
POLL_SECONDS = 0.25


class LineageConsumer:
    """Turns new events into RunEvents for the emitter; ``poll`` does one batch."""

    def __init__(self, store: Store, emitter: LineageEmitter, namespace: str) -> None:
        self.store = store
        self.emitter = emitter
        self.namespace = namespace
        cursors.start_cursor(store, CURSOR, store.last_event_id(), utcnow())

    def poll(self, now: datetime | None = None) -> int:
        """Offer the RunEvents of the events after the cursor; how many events were read."""
        store = self.store
        if store.last_event_id() <= cursors.read_cursor(store, CURSOR):
            return 0  # the usual case: two reads, no lock
        with store.transaction():
            cursor = cursors.lock_cursor(store, CURSOR, now or utcnow())
            events = store.events_after(cursor, limit=BATCH_SIZE)
            if events:
                cursors.advance_cursor(store, CURSOR, events[-1].id, now or utcnow())
        declared: dict[str, Declared] = {}
        for event in events:
            if event.job not in declared:
                declared[event.job] = datasets.declared_by_task(store, event.job)
            lineage = run_event(event, declared[event.job], self.namespace)
            if lineage is not None:
                self.emitter.offer(lineage)
        return len(events)


class LineageLoop(threading.Thread):
    """Polls the consumer until stopped; a failing poll is logged and retried."""

    def __init__(self, consumer: LineageConsumer) -> None:
        super().__init__(name="runwatch-lineage", daemon=True)
        self.consumer = consumer
        self.stopped = threading.Event()

    def run(self) -> None:
        """Loop until ``stop``."""
        while not self.stopped.wait(POLL_SECONDS):
            try:
                while self.consumer.poll() == BATCH_SIZE:
                    pass
            except Exception:
                logger.exception("openlineage: reading the event log failed; retrying")

    def stop(self, timeout: float = 5.0) -> None:
        """Stop polling and send what is queued for at most ``timeout`` seconds."""
        self.stopped.set()
        self.join(timeout)
        self.consumer.emitter.close(timeout)


def start_lineage(store: Store, namespace: str) -> LineageLoop:
    """Emit the store's runs and attempts as OpenLineage RunEvents, until stopped."""

    def client() -> object:
        from openlineage.client import OpenLineageClient

        return OpenLineageClient()

    loop = LineageLoop(LineageConsumer(store, LineageEmitter(client), namespace))
    loop.start()
    return loop
