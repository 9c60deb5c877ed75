"""The ``opsgenie`` receiver: Opsgenie's Alerts API v2.

Create on firing with ``alias`` = the alert's fingerprint, so a repeat (or a resend after
a crash) is deduplicated by Opsgenie into the open alert; close by alias on resolve.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from alerting.notification import DeliveryResult, Notification, NotifiedAlert, NotifiedStatus
from alerting.notifiers.http_delivery import post_json
from alerting.notifiers.plain_text import alert_text
from alerting.page import page_of
from alerting.receivers import OpsgenieSettings, Receiver

PRIORITIES = {"critical": "P1", "error": "P2", "warning": "P3", "info": "P5"}
"""runwatch severity -> Opsgenie priority (when the receiver sets none)."""

_MESSAGE_CHARS = 130
_DESCRIPTION_CHARS = 15000


def create_body(alert: NotifiedAlert, settings: OpsgenieSettings, *, test: bool) -> dict[str, Any]:
    """The body of ``POST /v2/alerts`` for one firing alert."""
    page = page_of(alert)
    prefix = "[TEST] " if test else "[FLAPPING] " if alert.status is NotifiedStatus.FLAPPING else ""
    details = {k: str(v) for k, v in page.to_json().items() if k != "headline"}
    details.update(alertname=alert.alertname, severity=alert.severity)
    job_tags = [t for t in alert.labels.get("tags", "").split(",") if t]
    body: dict[str, Any] = {
        "message": (prefix + page.headline)[:_MESSAGE_CHARS],
        "alias": alert.fingerprint,
        "description": alert_text(alert)[:_DESCRIPTION_CHARS],
        "responders": [dict(r) for r in settings.responders],
        "tags": list(dict.fromkeys([*settings.tags, *job_tags])),
        "details": details,
        "entity": alert.labels.get("job", ""),
        "source": "runwatch",
        "priority": settings.priority or PRIORITIES.get(alert.severity, "P3"),
    }
    return {k: v for k, v in body.items() if v}


class OpsgenieNotifier:
    """Creates or closes one Opsgenie alert per changed alert (every alert on a repeat)."""

    def __init__(self, receiver: Receiver) -> None:
        assert isinstance(receiver.settings, OpsgenieSettings)
        self.settings = receiver.settings
        self.what = f"opsgenie receiver {receiver.name!r}"
        self.timeout = receiver.timeout_seconds

    def send(self, notification: Notification) -> DeliveryResult:
        """Create or close each alert, stopping at the first failure; never raises."""
        alerts = [a for a in notification.alerts if a.changed or notification.repeat]
        for alert in alerts or notification.alerts:
            if alert.status is NotifiedStatus.RESOLVED:
                result = self._close(alert)
            else:
                result = self._post(
                    "v2/alerts", create_body(alert, self.settings, test=notification.test)
                )
                if result.ok and notification.test:
                    result = self._close(alert)
            if not result.ok:
                return result
        return DeliveryResult.success()

    def _close(self, alert: NotifiedAlert) -> DeliveryResult:
        path = f"v2/alerts/{quote(alert.fingerprint, safe='')}/close?identifierType=alias"
        return self._post(path, {"source": "runwatch", "note": page_of(alert).headline})

    def _post(self, path: str, body: dict[str, Any]) -> DeliveryResult:
        return post_json(
            self.settings.api_url + path,
            body,
            what=self.what,
            timeout=self.timeout,
            headers={"Authorization": f"GenieKey {self.settings.api_key.reveal()}"},
        )

    def shutdown(self) -> None:
        """Nothing to release."""
