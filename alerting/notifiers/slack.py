"""The ``slack`` receiver through slack-sdk: an incoming webhook, or a bot token.

With a webhook each notification is a new Block Kit message (a resolved notice follows
the firing one). With a bot token the first notification of a group episode is posted
with ``chat.postMessage``; later ones update that message in place (``chat.update``)
and add a reply in its thread saying what changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from alerting.notification import DeliveryResult, Notification, NotifiedAlert, NotifiedStatus
from alerting.notifiers.http_delivery import classify, is_permanent, retry_after
from alerting.page import page_of
from alerting.receivers import Receiver, SlackSettings

_MAX_ALERTS = 10  # Slack allows 50 blocks per message; each alert takes up to 4
_MAX_FIELDS = 10  # Slack's limit per section
_LINK_TEXT = {"Run": "run page"}
_ICONS = {
    NotifiedStatus.FIRING: ":red_circle:",
    NotifiedStatus.RESOLVED: ":large_green_circle:",
    NotifiedStatus.FLAPPING: ":warning:",
}
# Slack API errors that no retry will fix.
_PERMANENT = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "no_text",
        "invalid_arguments",
        "restricted_action",
        "team_access_not_granted",
    }
)
_MESSAGE_GONE = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})


def mrkdwn_escape(text: object) -> str:
    """``text`` with Slack's control characters escaped (``&``, ``<``, ``>``), so job data
    such as ``<!channel>`` or ``<https://x|y>`` is shown as written, never a mention or link."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _field(name: str, value: object) -> dict[str, str]:
    return {"type": "mrkdwn", "text": f"*{name}*\n{mrkdwn_escape(value)}"}


def alert_blocks(alert: NotifiedAlert) -> list[dict[str, Any]]:
    """The Block Kit blocks of one alert: headline, facts, error tail, links."""
    page = page_of(alert)
    facts = [("Severity", alert.labels.get("severity")), *page.facts()]
    facts.append(("Status", alert.status.value))
    headline = mrkdwn_escape(page.headline)
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"{_ICONS[alert.status]} *{headline}*"},
            "fields": [_field(name, value) for name, value in facts if value][:_MAX_FIELDS],
        },
    ]
    if page.error:
        text = mrkdwn_escape(page.error[-600:].replace("```", "'''"))
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": f"```{text}```"}})
    context = [
        f"<{mrkdwn_escape(url).replace('|', '%7C')}|{_LINK_TEXT.get(text, text.lower())}>"
        for text, url in page.links
    ]
    trace_id = alert.details.get("trace_id")
    if not page.trace_url and trace_id:
        context.append(f"trace `{mrkdwn_escape(trace_id)}`")
    context.append(f"fingerprint `{alert.fingerprint}`")
    blocks.append(
        {"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(context)}]}
    )
    return blocks


def message_blocks(notification: Notification) -> list[dict[str, Any]]:
    """The whole message: a header with the group's state, then each alert."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": notification.title[:150]}}
    ]
    for alert in notification.alerts[:_MAX_ALERTS]:
        blocks.append({"type": "divider"})
        blocks.extend(alert_blocks(alert))
    hidden = len(notification.alerts) - _MAX_ALERTS
    if hidden > 0:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"and {hidden} more alerts"}],
            }
        )
    return blocks


def change_text(notification: Notification) -> str:
    """The thread reply for an update: what changed."""
    changed = [a for a in notification.alerts if a.changed] or list(notification.alerts)
    verb = "Still firing" if notification.repeat else "Update"
    lines = [f"{verb}: {mrkdwn_escape(notification.title)}"]
    lines += [
        f"{_ICONS[a.status]} {a.status.value}: {mrkdwn_escape(page_of(a).headline)}"
        for a in changed[:_MAX_ALERTS]
    ]
    return "\n".join(lines)


class SlackNotifier:
    """Sends through slack-sdk's WebhookClient or WebClient (retries left to the outbox)."""

    def __init__(self, receiver: Receiver) -> None:
        assert isinstance(receiver.settings, SlackSettings)
        settings = receiver.settings
        timeout = max(1, round(receiver.timeout_seconds))
        self.what = f"slack receiver {receiver.name!r}"
        self.channel = settings.channel
        self._webhook: Any = None
        self._client: Any = None
        if settings.webhook_url is not None:
            from slack_sdk.webhook import WebhookClient

            self._webhook = WebhookClient(
                settings.webhook_url.reveal(), timeout=timeout, retry_handlers=[]
            )
        else:
            from slack_sdk import WebClient

            assert settings.token is not None
            self._client = WebClient(
                token=settings.token.reveal(),
                base_url=settings.api_url,
                timeout=timeout,
                retry_handlers=[],
            )

    def send(self, notification: Notification) -> DeliveryResult:
        """Post (or update) the group's message; never raises."""
        try:
            if self._webhook is not None:
                return self._send_webhook(notification)
            return self._send_bot(notification)
        except Exception as exc:
            return self._failure(exc)

    def _send_webhook(self, notification: Notification) -> DeliveryResult:
        response = self._webhook.send(
            text=mrkdwn_escape(notification.title), blocks=message_blocks(notification)
        )
        body = str(response.body or "")[:200]
        return classify(int(response.status_code), self.what, body, dict(response.headers or {}))

    def _send_bot(self, notification: Notification) -> DeliveryResult:
        from slack_sdk.errors import SlackApiError

        text, blocks = mrkdwn_escape(notification.title), message_blocks(notification)
        thread = notification.thread
        if thread and thread.get("ts") and thread.get("channel"):
            try:
                self._client.chat_update(
                    channel=thread["channel"], ts=thread["ts"], text=text, blocks=blocks
                )
                if notification.redelivery:  # the reply may have been posted already
                    return DeliveryResult.success(thread=thread)
                self._client.chat_postMessage(
                    channel=thread["channel"],
                    thread_ts=thread["ts"],
                    text=change_text(notification),
                )
                return DeliveryResult.success(thread=thread)
            except SlackApiError as exc:
                if _slack_error(exc) not in _MESSAGE_GONE:
                    raise
        response = self._client.chat_postMessage(channel=self.channel, text=text, blocks=blocks)
        return DeliveryResult.success(
            thread={"channel": str(response["channel"]), "ts": str(response["ts"])}
        )

    def _failure(self, exc: Exception) -> DeliveryResult:
        from slack_sdk.errors import SlackApiError

        if isinstance(exc, SlackApiError):
            response = exc.response
            status = int(getattr(response, "status_code", 0) or 0)
            error = _slack_error(exc)
            headers: Mapping[str, Any] = getattr(response, "headers", None) or {}
            return DeliveryResult.failure(
                f"{self.what}: HTTP {status}: {error}",
                permanent=error in _PERMANENT or (is_permanent(status) and error != "ratelimited"),
                retry_after_seconds=retry_after(dict(headers)),
            )
        return DeliveryResult.failure(f"{self.what}: {type(exc).__name__}")

    def shutdown(self) -> None:
        """Nothing to release (slack-sdk opens a connection per request)."""


def _slack_error(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    try:
        return str(response["error"]) if response is not None else "unknown"
    except (KeyError, TypeError):
        return "unknown"
