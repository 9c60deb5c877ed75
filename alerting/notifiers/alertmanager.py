"""The ``alertmanager`` receiver: forwards alerts to a Prometheus Alertmanager (API v2)
for teams whose routing already lives there."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from alerting.notification import DeliveryResult, Notification, NotifiedAlert, NotifiedStatus
from alerting.notifiers.http_delivery import post_json, ssl_context
from alerting.page import page_of
from alerting.receivers import AlertmanagerSettings, Receiver
from runner.clock import Clock, utcnow


def alertmanager_alerts(
    notification: Notification, ends_after: timedelta, sent_at: datetime
) -> list[dict[str, Any]]:
    """The alerts as Alertmanager's ``postableAlerts``: labels are the alert's identity,
    per-run facts travel as annotations.

    Firing alerts carry ``endsAt`` = send time + ``ends_after`` (renewed by every resend,
    and from the send, not the notification, so a post delayed by an outage is not
    already over), so Alertmanager keeps them firing; resolved ones their resolution time.
    """
    found = []
    for alert in notification.alerts:
        labels = {k: v for k, v in alert.labels.items() if v}
        annotations = alert.run_annotations()
        if alert.status is NotifiedStatus.FLAPPING:
            annotations["flapping"] = "true"
        annotations.update(_page_annotations(alert))
        if alert.status is NotifiedStatus.RESOLVED and alert.ends_at is not None:
            ends = alert.ends_at
        else:
            ends = max(notification.created_at, sent_at) + ends_after
        found.append(
            {
                "labels": labels,
                "annotations": annotations,
                "startsAt": alert.starts_at.isoformat(),
                "endsAt": ends.isoformat(),
            }
        )
    return found


def _page_annotations(alert: NotifiedAlert) -> dict[str, str]:
    """The page's facts as annotations (strings), the summary now saying "recovered"."""
    page = page_of(alert)
    found = {k: str(v) for k, v in page.to_json().items() if k != "headline"}
    if alert.status is NotifiedStatus.RESOLVED:
        found["summary"] = page.headline
    return found


class AlertmanagerNotifier:
    """POSTs the alerts of each notification to ``/api/v2/alerts``."""

    def __init__(self, receiver: Receiver, clock: Clock = utcnow) -> None:
        assert isinstance(receiver.settings, AlertmanagerSettings)
        self.clock = clock
        self.settings = receiver.settings
        self.what = f"alertmanager receiver {receiver.name!r}"
        self.timeout = receiver.timeout_seconds
        self.context = ssl_context(self.settings.ca_bundle)

    def send(self, notification: Notification) -> DeliveryResult:
        """Post the alerts."""
        ends_after = timedelta(seconds=self.settings.ends_after_seconds)
        return post_json(
            f"{self.settings.url}/api/v2/alerts",
            alertmanager_alerts(notification, ends_after, self.clock()),
            what=self.what,
            timeout=self.timeout,
            context=self.context if self.settings.url.startswith("https") else None,
        )

    def shutdown(self) -> None:
        """Nothing to release."""
