"""A notification as an email: the title as subject, a text and an HTML part, and
``Message-ID``/``In-Reply-To``/``References`` so a group's firing, repeats and resolve
thread together in mail clients.

The first message of a group episode has the episode's own id (``thread_id``), which the
sender keeps as the group's thread; later messages answer it.
"""

from __future__ import annotations

import hashlib
from email.message import EmailMessage
from email.utils import format_datetime
from html import escape

from alerting.notification import Notification, NotifiedAlert
from alerting.notifiers.plain_text import notification_text
from alerting.page import page_of
from alerting.receivers import EmailSettings

_MAX_ALERTS = 20
_COLOURS = {"firing": "#c0392b", "resolved": "#27ae60", "flapping": "#e67e22"}


def thread_id(notification: Notification, domain: str) -> str:
    """The ``Message-ID`` of the group episode's first message."""
    group = hashlib.sha256(notification.group_key.encode()).hexdigest()[:16]
    return f"<runwatch.{group}.{notification.episode}@{domain}>"


def alert_html(alert: NotifiedAlert) -> str:
    """One alert: headline, a table of facts, the error tail, links."""
    page = page_of(alert)
    facts = [("Severity", alert.labels.get("severity")), *page.facts()]
    facts.append(("Status", alert.status.value))
    rows = "".join(
        f"<tr><th align='left'>{escape(name)}</th><td>{escape(str(value))}</td></tr>"
        for name, value in facts
        if value
    )
    parts = [
        f"<h3 style='color:{_COLOURS[alert.status.value]}'>{escape(page.headline)}</h3>",
        f"<table>{rows}</table>",
    ]
    if page.error:
        parts.append(f"<pre>{escape(page.error[-600:])}</pre>")
    links = " · ".join(f"<a href='{escape(url)}'>{escape(text)}</a>" for text, url in page.links)
    if links:
        parts.append(f"<p>{links}</p>")
    parts.append(f"<p><small>fingerprint {escape(alert.fingerprint)}</small></p>")
    return "".join(parts)


def notification_html(notification: Notification) -> str:
    """The HTML part: the title, then each alert (up to 20)."""
    alerts = "<hr>".join(alert_html(a) for a in notification.alerts[:_MAX_ALERTS])
    hidden = len(notification.alerts) - _MAX_ALERTS
    more = f"<p>and {hidden} more alerts</p>" if hidden > 0 else ""
    return f"<html><body><h2>{escape(notification.title)}</h2>{alerts}{more}</body></html>"


def email_message(notification: Notification, settings: EmailSettings) -> EmailMessage:
    """The message for ``notification``; its ``Message-ID`` is stable across retries."""
    domain = settings.sender.rpartition("@")[2].rstrip(">")
    root = thread_id(notification, domain)
    message = EmailMessage()
    message["Subject"] = notification.title
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.to)
    message["Date"] = format_datetime(notification.created_at)
    reply_to = (notification.thread or {}).get("message_id")
    if reply_to:
        message["Message-ID"] = root.replace("@", f".{notification.id}@", 1)
        message["In-Reply-To"] = reply_to
        message["References"] = reply_to
    else:
        message["Message-ID"] = root
    message.set_content(notification_text(notification))
    message.add_alternative(notification_html(notification), subtype="html")
    return message
