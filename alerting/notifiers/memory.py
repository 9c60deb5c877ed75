"""The ``memory`` receiver: keeps notifications in a list, for tests and benchmarks."""

from __future__ import annotations

import threading
from collections import deque

from alerting.notification import DeliveryResult, Notification
from alerting.receivers import Receiver


class MemoryNotifier:
    """Records what it is sent; ``fail_next`` queues results to answer instead of success."""

    def __init__(self, receiver: Receiver | None = None) -> None:
        self.name = receiver.name if receiver else "memory"
        self.sent: list[Notification] = []
        self.failures: deque[DeliveryResult] = deque()
        self._lock = threading.Lock()

    def fail_next(self, *results: DeliveryResult) -> None:
        """Answer the next sends with these results (failures) before succeeding again."""
        self.failures.extend(results)

    def send(self, notification: Notification) -> DeliveryResult:
        """Record the notification, or answer a queued failure."""
        with self._lock:
            if self.failures:
                return self.failures.popleft()
            self.sent.append(notification)
        return DeliveryResult.success(thread={"id": str(len(self.sent))})

    def shutdown(self) -> None:
        """Nothing to release."""
