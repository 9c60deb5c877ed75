"""A notification as plain text, for receivers without rich formatting (Opsgenie's
description, an email's text part): per alert its headline, the page's facts, the error
tail and the links, each on its own line."""

from __future__ import annotations

from alerting.notification import Notification, NotifiedAlert
from alerting.page import page_of

_MAX_ALERTS = 20


def alert_text(alert: NotifiedAlert) -> str:
    """One alert: headline, ``Name: value`` facts, error tail, links, fingerprint."""
    page = page_of(alert)
    facts = [("Severity", alert.labels.get("severity")), *page.facts()]
    facts.append(("Status", alert.status.value))
    lines = [page.headline, *(f"{name}: {value}" for name, value in facts if value)]
    if page.error:
        lines += ["", "Error:", page.error[-600:]]
    if page.links:
        lines.append("")
        lines += [f"{text}: {url}" for text, url in page.links]
    lines.append(f"Fingerprint: {alert.fingerprint}")
    return "\n".join(lines)


def notification_text(notification: Notification) -> str:
    """Every alert of the notification (up to 20), separated by blank lines."""
    parts = [alert_text(a) for a in notification.alerts[:_MAX_ALERTS]]
    hidden = len(notification.alerts) - _MAX_ALERTS
    if hidden > 0:
        parts.append(f"and {hidden} more alerts")
    return "\n\n".join(parts)
