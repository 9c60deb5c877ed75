"""The ``msteams`` receiver: an Adaptive Card posted to a Teams incoming webhook or a
Workflows (Power Automate) URL, with the same facts and links as the Slack message.

Each notification is a new card (a resolved card follows the firing one): neither kind
of URL can update a posted card.
"""

from __future__ import annotations

import re
from typing import Any

from alerting.notification import DeliveryResult, Notification, NotifiedAlert, NotifiedStatus
from alerting.notifiers.http_delivery import post_json
from alerting.page import page_of
from alerting.receivers import MSTeamsSettings, Receiver

_MAX_ALERTS = 10  # a card over 28 KB is refused; ten alerts with error tails fit
_CARD = "application/vnd.microsoft.card.adaptive"
_ICONS = {
    NotifiedStatus.FIRING: "\N{LARGE RED CIRCLE}",
    NotifiedStatus.RESOLVED: "\N{LARGE GREEN CIRCLE}",
    NotifiedStatus.FLAPPING: "\N{WARNING SIGN}",
}
_COLOURS = {
    NotifiedStatus.FIRING: "Attention",
    NotifiedStatus.RESOLVED: "Good",
    NotifiedStatus.FLAPPING: "Warning",
}
_MARKDOWN = re.compile(r"([\\`*_\[\]<>~])")


def markdown_escape(text: object) -> str:
    """``text`` with the characters of Teams' markdown escaped, so job data such as
    ``[x](https://evil)`` or ``**`` is shown as written, never a link or formatting."""
    return _MARKDOWN.sub(r"\\\1", str(text))


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": text, "wrap": True, **style}


def alert_items(alert: NotifiedAlert) -> list[dict[str, Any]]:
    """The card elements of one alert: headline, facts, error tail, links, fingerprint."""
    page = page_of(alert)
    facts = [("Severity", alert.labels.get("severity")), *page.facts()]
    facts.append(("Status", alert.status.value))
    items: list[dict[str, Any]] = [
        _text(
            f"{_ICONS[alert.status]} {markdown_escape(page.headline)}",
            weight="Bolder",
            color=_COLOURS[alert.status],
            separator=True,
        ),
        {
            "type": "FactSet",
            "facts": [
                {"title": name, "value": markdown_escape(value)} for name, value in facts if value
            ],
        },
    ]
    if page.error:
        items.append(_text(page.error[-600:], fontType="Monospace", markdown=False))
    if page.links:
        items.append(
            {
                "type": "ActionSet",
                "actions": [
                    {"type": "Action.OpenUrl", "title": text, "url": url}
                    for text, url in page.links
                ],
            }
        )
    subtle = [f"fingerprint {alert.fingerprint}"]
    trace_id = alert.details.get("trace_id")
    if not page.trace_url and trace_id:
        subtle.insert(0, f"trace {trace_id}")
    items.append(_text(" · ".join(subtle), isSubtle=True, size="Small", markdown=False))
    return items


def adaptive_card(notification: Notification) -> dict[str, Any]:
    """The whole card: a header with the group's state, then each alert."""
    body: list[dict[str, Any]] = [
        _text(markdown_escape(notification.title), weight="Bolder", size="Medium")
    ]
    for alert in notification.alerts[:_MAX_ALERTS]:
        body.extend(alert_items(alert))
    hidden = len(notification.alerts) - _MAX_ALERTS
    if hidden > 0:
        body.append(_text(f"and {hidden} more alerts", isSubtle=True))
    return {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "body": body,
    }


def teams_message(notification: Notification) -> dict[str, Any]:
    """The message both incoming webhooks and Workflows take: one card attachment."""
    return {
        "type": "message",
        "summary": notification.title,
        "attachments": [
            {"contentType": _CARD, "contentUrl": None, "content": adaptive_card(notification)}
        ],
    }


class MSTeamsNotifier:
    """POSTs ``teams_message`` to the configured URL (retries left to the outbox)."""

    def __init__(self, receiver: Receiver) -> None:
        assert isinstance(receiver.settings, MSTeamsSettings)
        self.url = receiver.settings.webhook_url
        self.what = f"msteams receiver {receiver.name!r}"
        self.timeout = receiver.timeout_seconds

    def send(self, notification: Notification) -> DeliveryResult:
        """Post the card; never raises."""
        return post_json(
            self.url.reveal(), teams_message(notification), what=self.what, timeout=self.timeout
        )

    def shutdown(self) -> None:
        """Nothing to release."""
