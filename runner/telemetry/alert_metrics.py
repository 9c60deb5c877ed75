"""Alerting's metrics, computed at scrape time from the store: notifications by receiver
and outcome, firing alerts by severity. Telemetry does not import alerting; the serve
command hands in the two counting functions."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

logger = logging.getLogger(__name__)

NotificationCounts = Callable[[], dict[tuple[str, str], int]]
FiringCounts = Callable[[], dict[str, int]]
_COUNTED = ("sent", "failed", "possibly_delivered")


class AlertMetrics:
    """A prometheus_client collector for ``runwatch_notifications_total{receiver,status}``
    and ``runwatch_alerts_firing{severity}``; every receiver's series exist from the start."""

    def __init__(
        self, notifications: NotificationCounts, firing: FiringCounts, receivers: Iterable[str]
    ) -> None:
        self._notifications = notifications
        self._firing = firing
        self._receivers = sorted(receivers)
        self._lock = threading.Lock()

    def collect(self) -> Iterator[Metric]:
        """The two families; a store error is logged and the families left out."""
        try:
            with self._lock:
                sent = self._notifications()
                firing = self._firing()
        except Exception:
            logger.exception("alert metrics: cannot read the store")
            return
        notifications = CounterMetricFamily(
            "runwatch_notifications",
            "Notifications that reached a final outcome, by receiver and status.",
            labels=("receiver", "status"),
        )
        receivers = sorted(set(self._receivers) | {r for r, _ in sent})
        for receiver in receivers:
            for status in _COUNTED:
                notifications.add_metric((receiver, status), sent.get((receiver, status), 0))
        yield notifications
        alerts = GaugeMetricFamily(
            "runwatch_alerts_firing", "Alerts firing now, by severity.", labels=("severity",)
        )
        for severity, count in sorted(firing.items()):
            alerts.add_metric((severity,), count)
        yield alerts
