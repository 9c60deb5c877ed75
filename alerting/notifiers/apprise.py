"""The ``apprise`` receiver: the long tail of services (Discord, ntfy, Telegram, mailto …)
through the Apprise library (the optional extra ``runwatch[apprise]``).

Every URL gets the notification's title and its plain-text body. Apprise says only
whether a target took it, never why not, so a refusal is always retried (until
``max_attempts``, then the ``fallback``); a URL Apprise cannot use is a permanent error.
Targets that took a notification are not sent it again when a retry is for the others
(within one process). Apprise's log lines, and urllib3's request lines under it, pass
through a filter that redacts the URLs' credentials.
"""

from __future__ import annotations

import logging
from typing import Any

from alerting.notification import DeliveryResult, Notification
from alerting.notifiers.plain_text import notification_text
from alerting.receivers import AppriseSettings, Receiver
from runner.redaction import Redactor

_LOGGERS = ("apprise", "urllib3.connectionpool")
"""Apprise's log and that of the HTTP client under it, which logs request paths."""


class _RedactingFilter(logging.Filter):
    """Rewrites each Apprise log record with the receiver's secrets redacted."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self._redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self._redactor.redact(record.getMessage())
        record.args = None
        return True


class AppriseNotifier:
    """Notifies every configured Apprise URL."""

    def __init__(self, receiver: Receiver) -> None:
        assert isinstance(receiver.settings, AppriseSettings)
        self.what = f"apprise receiver {receiver.name!r}"
        self.urls = receiver.settings.urls
        self.timeout = receiver.timeout_seconds
        self._filter = _RedactingFilter(Redactor(receiver.secrets()))
        self._loggers = [logging.getLogger(name) for name in _LOGGERS]
        for logger in self._loggers:
            logger.addFilter(self._filter)
        self._delivered: dict[int, set[int]] = {}
        self._targets: list[Any] | None = None

    def send(self, notification: Notification) -> DeliveryResult:
        """Notify each target not yet reached; never raises."""
        try:
            targets = self._load()
        except ImportError:
            return DeliveryResult.failure(
                f"{self.what}: Apprise is not installed (pip install 'runwatch[apprise]')",
                permanent=True,
            )
        title, body = notification.title, notification_text(notification)
        done = self._delivered.setdefault(notification.id, set())
        failed = []
        for number, target in enumerate(targets):
            if number in done:
                continue
            if target is None:
                return self._failure(number, "Apprise cannot use this URL", permanent=True)
            if _notify(target, title, body):
                done.add(number)
            else:
                failed.append(number)
        if failed:
            return self._failure(failed[0], f"not delivered ({len(failed)} failed)")
        self._delivered.pop(notification.id, None)
        return DeliveryResult.success()

    def _load(self) -> list[Any]:
        if self._targets is None:
            import apprise

            targets = [apprise.Apprise.instantiate(url.reveal()) for url in self.urls]
            for target in targets:
                if target is not None:
                    target.socket_connect_timeout = self.timeout
                    target.socket_read_timeout = self.timeout
            self._targets = targets
        return self._targets

    def _failure(self, number: int, what: str, *, permanent: bool = False) -> DeliveryResult:
        schema = self.urls[number].reveal().split("://", 1)[0]
        return DeliveryResult.failure(
            f"{self.what}: URL {number + 1} of {len(self.urls)} ({schema}://): {what}",
            permanent=permanent,
        )

    def shutdown(self) -> None:
        """Stop redacting Apprise's log for this receiver."""
        for logger in self._loggers:
            logger.removeFilter(self._filter)


def _notify(target: Any, title: str, body: str) -> bool:
    import apprise

    try:
        return bool(target.notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT))
    except Exception:
        return False
