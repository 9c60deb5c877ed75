"""Hands RunEvents to the OpenLineage client on a thread of its own, through a bounded
queue: a full queue drops the event and counts it, so no caller ever waits on the
endpoint (as the OTel exporter's batch processor does)."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)

QUEUE_SIZE = 2048
"""Events waiting to be sent; more are dropped (and counted)."""
_STOP = object()


class LineageEmitter:
    """Sends the offered events with ``client_factory()``'s client, oldest first."""

    def __init__(self, client_factory: Callable[[], Any], *, capacity: int = QUEUE_SIZE) -> None:
        self._factory = client_factory
        self._queue: queue.Queue[object] = queue.Queue(maxsize=capacity)
        self._lock = threading.Lock()
        self.sent = 0
        self.failed = 0
        """Events the client raised on (endpoint down or refusing), after its own retries."""
        self.dropped = 0
        """Events dropped because the queue was full."""
        self._thread = threading.Thread(target=self._run, name="runwatch-openlineage", daemon=True)
        self._thread.start()

    def offer(self, event: object) -> bool:
        """Queue an event without waiting; False (and counted) when the queue is full."""
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            with self._lock:
                self.dropped += 1
                dropped = self.dropped
            if dropped == 1 or dropped % 1000 == 0:
                logger.warning("openlineage: queue full, %d events dropped so far", dropped)
            return False
        return True

    def _run(self) -> None:
        try:
            client = self._factory()
        except Exception:
            logger.exception("openlineage: the client could not be configured; events dropped")
            client = None
        while True:
            event = self._queue.get()
            if event is _STOP:
                break
            if client is None:
                self._count("dropped")
                continue
            try:
                client.emit(event)
            except Exception as exc:
                self._count("failed")
                logger.warning("openlineage: an event was not sent: %s", type(exc).__name__)
            else:
                self._count("sent")
        if client is not None:
            try:
                client.close(1.0)
            except Exception:
                logger.debug("openlineage: closing the client failed", exc_info=True)

    def _count(self, what: str) -> None:
        with self._lock:
            setattr(self, what, getattr(self, what) + 1)

    def close(self, timeout: float = 5.0) -> None:
        """Send what is queued for at most ``timeout`` seconds, then stop."""
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            return  # the thread is a daemon: what is left is dropped at exit
        self._thread.join(timeout)
