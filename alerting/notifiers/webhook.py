"""The generic ``webhook`` receiver: the notification as JSON to any HTTP endpoint."""

from __future__ import annotations

from typing import Any

from alerting.notification import DeliveryResult, Notification
from alerting.notifiers.http_delivery import post_json, ssl_context
from alerting.page import page_of
from alerting.receivers import Receiver, WebhookSettings


def webhook_body(notification: Notification) -> dict[str, Any]:
    """The JSON document a webhook receives (version 1); ``facts`` per alert are what a
    page shows (alerting.page)."""
    return {
        "version": "1",
        "receiver": notification.receiver,
        "status": notification.status.value,
        "title": notification.title,
        "group_key": notification.group_key,
        "group_labels": dict(notification.group_labels),
        "repeat": notification.repeat,
        "test": notification.test,
        "alerts": [
            {
                "fingerprint": a.fingerprint,
                "status": a.status.value,
                "changed": a.changed,
                "labels": dict(a.labels),
                "annotations": dict(a.annotations),
                "starts_at": a.starts_at.isoformat(),
                "ends_at": a.ends_at.isoformat() if a.ends_at else None,
                "details": dict(a.details),
                "facts": page_of(a).to_json(),
            }
            for a in notification.alerts
        ],
    }


class WebhookNotifier:
    """POSTs ``webhook_body`` to the configured URL."""

    def __init__(self, receiver: Receiver) -> None:
        assert isinstance(receiver.settings, WebhookSettings)
        self.settings = receiver.settings
        self.what = f"webhook receiver {receiver.name!r}"
        self.timeout = receiver.timeout_seconds
        self.context = ssl_context(self.settings.ca_bundle)

    def send(self, notification: Notification) -> DeliveryResult:
        """Post the notification."""
        return post_json(
            self.settings.url.reveal(),
            webhook_body(notification),
            what=self.what,
            timeout=self.timeout,
            headers={k: v.reveal() for k, v in self.settings.headers.items()},
            context=self.context,
        )

    def shutdown(self) -> None:
        """Nothing to release."""
