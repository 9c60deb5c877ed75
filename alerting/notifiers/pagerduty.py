"""The ``pagerduty`` receiver through the ``pagerduty`` package's EventsApiV2Client.

Trigger on firing, resolve on resolved, both with ``dedup_key`` = the alert's
fingerprint, so repeats (at-least-once delivery) are harmless. Retries are the
outbox's: the client's own retry loops are switched off.
"""

from __future__ import annotations

from typing import Any

from alerting.notification import DeliveryResult, Notification, NotifiedAlert, NotifiedStatus
from alerting.notifiers.http_delivery import classify, ssl_context
from alerting.page import page_of
from alerting.receivers import PagerDutySettings, Receiver

SEVERITIES = {"critical": "critical", "error": "error", "warning": "warning", "info": "info"}
"""runwatch severity -> PagerDuty severity."""

_SUMMARY_CHARS = 1024
_DETAIL_KEYS = (
    "run_id",
    "task",
    "attempt",
    "exit_code",
    "signal",
    "reason",
    "duration",
    "threshold",
    "expected_at",
    "trace_id",
)


def custom_details(alert: NotifiedAlert) -> dict[str, Any]:
    """The incident's custom details: the page's facts plus the alert's identity."""
    details: dict[str, Any] = {key: alert.details.get(key) for key in _DETAIL_KEYS}
    details["task"] = alert.labels.get("task") or details["task"]
    details.update(page_of(alert).to_json())
    details["alertname"] = alert.alertname
    details["job"] = alert.labels.get("job")
    details["tags"] = alert.labels.get("tags")
    if alert.status is NotifiedStatus.FLAPPING:
        details["flapping"] = True
    return {k: v for k, v in details.items() if v is not None and v != ""}


def trigger_payload(alert: NotifiedAlert, source: str, *, test: bool = False) -> dict[str, Any]:
    """The keyword arguments of ``EventsApiV2Client.trigger`` for one alert."""
    prefix = "[TEST] " if test else "[FLAPPING] " if alert.status is NotifiedStatus.FLAPPING else ""
    extra: dict[str, Any] = {
        "component": alert.labels.get("job"),
        "class": alert.alertname,
        "timestamp": alert.starts_at.isoformat(),
    }
    if alert.labels.get("owner"):
        extra["group"] = alert.labels["owner"]
    page = page_of(alert)
    links = [{"href": url, "text": text} for text, url in page.links]
    return {
        "summary": (prefix + page.headline)[:_SUMMARY_CHARS],
        "source": source,
        "dedup_key": alert.fingerprint,
        "severity": SEVERITIES.get(alert.severity, "warning"),
        "payload": {k: v for k, v in extra.items() if v},
        "custom_details": custom_details(alert),
        "links": links or None,
    }


class PagerDutyNotifier:
    """Sends one Events API v2 event per changed alert (every alert on a repeat)."""

    def __init__(self, receiver: Receiver) -> None:
        assert isinstance(receiver.settings, PagerDutySettings)
        import pagerduty

        settings = receiver.settings
        self.what = f"pagerduty receiver {receiver.name!r}"
        self.source = settings.source
        client: Any = pagerduty.EventsApiV2Client(
            settings.routing_key.reveal(),
            base_url=settings.events_url,
            verify=ssl_context(settings.ca_bundle),
        )
        # One HTTP request per call: the client would otherwise sleep and retry (429
        # forever) inside send; the outbox owns retries and backoff.
        client.retry = {429: 1, 500: 1, 502: 1, 503: 1, 504: 1}
        client.max_http_attempts = -1
        client.max_network_attempts = 0
        client.timeout = receiver.timeout_seconds
        self._client = client

    def send(self, notification: Notification) -> DeliveryResult:
        """Trigger or resolve each alert; never raises."""
        alerts = [a for a in notification.alerts if a.changed or notification.repeat]
        try:
            for alert in alerts or notification.alerts:
                if alert.status is NotifiedStatus.RESOLVED:
                    self._client.resolve(alert.fingerprint)
                    continue
                self._client.trigger(**trigger_payload(alert, self.source, test=notification.test))
                if notification.test:
                    self._client.resolve(alert.fingerprint)
        except Exception as exc:
            return self._failure(exc)
        return DeliveryResult.success()

    def _failure(self, exc: Exception) -> DeliveryResult:
        response = getattr(exc, "response", None)
        if response is None:
            cause = exc.__cause__ or exc
            return DeliveryResult.failure(f"{self.what}: cannot connect: {type(cause).__name__}")
        status = int(response.status_code)
        try:
            body = response.text[:200]
        except Exception:
            body = ""
        return classify(status, self.what, body, dict(response.headers))

    def shutdown(self) -> None:
        """Close the HTTP client."""
        self._client.close()
