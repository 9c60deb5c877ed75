"""The ``log`` receiver: notifications written to runwatch's log (the default)."""

from __future__ import annotations

import logging

from alerting.notification import DeliveryResult, Notification
from alerting.receivers import LogSettings, Receiver

logger = logging.getLogger(__name__)
_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


class LogNotifier:
    """Logs one line per notification and one per alert."""

    def __init__(self, receiver: Receiver) -> None:
        assert isinstance(receiver.settings, LogSettings)
        self.level = _LEVELS[receiver.settings.level]

    def send(self, notification: Notification) -> DeliveryResult:
        """Log the notification."""
        logger.log(self.level, "%s", notification.title)
        for alert in notification.alerts:
            logger.log(
                self.level,
                "  %s %s: %s",
                alert.status.value,
                alert.alertname,
                alert.summary,
                extra={"job": alert.labels.get("job"), "run_id": alert.details.get("run_id")},
            )
        return DeliveryResult.success()

    def shutdown(self) -> None:
        """Nothing to release."""
