"""The ``email`` receiver over SMTP (stdlib ``smtplib``): implicit TLS on port 465,
else STARTTLS (required unless ``require_tls: false``), then AUTH when configured.

A 4xx reply is temporary (retried by the outbox), a 5xx permanent. A message some
recipients refused while others took it counts as delivered (a retry would repeat it
to the others); the refused addresses are logged.
"""

from __future__ import annotations

import logging
import smtplib
import ssl

from alerting.notification import DeliveryResult, Notification
from alerting.notifiers.email_message import email_message
from alerting.notifiers.http_delivery import ssl_context
from alerting.receivers import EmailSettings, Receiver

logger = logging.getLogger(__name__)
_IMPLICIT_TLS_PORT = 465


class EmailNotifier:
    """Sends each notification as one message to every ``to`` address."""

    def __init__(self, receiver: Receiver) -> None:
        assert isinstance(receiver.settings, EmailSettings)
        self.settings = receiver.settings
        self.what = f"email receiver {receiver.name!r}"
        self.timeout = receiver.timeout_seconds
        self.context = ssl_context(self.settings.ca_file)

    def send(self, notification: Notification) -> DeliveryResult:
        """Send the message; never raises."""
        message = email_message(notification, self.settings)
        try:
            with self._session() as smtp:
                refused = smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            return self._reply(max(codes), "every recipient refused")
        except smtplib.SMTPResponseException as exc:
            text = (
                exc.smtp_error.decode("utf-8", "replace")
                if isinstance(exc.smtp_error, bytes)
                else str(exc.smtp_error)
            )
            return self._reply(exc.smtp_code, text)
        except smtplib.SMTPNotSupportedError as exc:
            return DeliveryResult.failure(f"{self.what}: {exc}", permanent=True)
        except ssl.SSLError as exc:
            return DeliveryResult.failure(f"{self.what}: TLS: {type(exc).__name__}")
        except (smtplib.SMTPException, OSError) as exc:
            return DeliveryResult.failure(f"{self.what}: cannot connect: {type(exc).__name__}")
        if refused:
            logger.warning("%s: recipients refused: %s", self.what, ", ".join(sorted(refused)))
        thread = None if notification.thread else {"message_id": str(message["Message-ID"])}
        return DeliveryResult.success(thread=thread)

    def _session(self) -> smtplib.SMTP:
        settings = self.settings
        smtp: smtplib.SMTP
        if settings.port == _IMPLICIT_TLS_PORT:
            smtp = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=self.timeout, context=self.context
            )
        else:
            smtp = smtplib.SMTP(settings.host, settings.port, timeout=self.timeout)
        try:
            smtp.ehlo()
            if settings.require_tls and settings.port != _IMPLICIT_TLS_PORT:
                if not smtp.has_extn("starttls"):
                    raise smtplib.SMTPNotSupportedError(
                        "the server does not offer STARTTLS (require_tls is true)"
                    )
                smtp.starttls(context=self.context)
                smtp.ehlo()
            if settings.auth_password is not None:
                assert settings.auth_username is not None
                smtp.login(settings.auth_username, settings.auth_password.reveal())
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _reply(self, code: int, text: str) -> DeliveryResult:
        return DeliveryResult.failure(
            f"{self.what}: SMTP {code}: {text.strip()[:200]}", permanent=500 <= code < 600
        )

    def shutdown(self) -> None:
        """Nothing to release (one SMTP session per message)."""
