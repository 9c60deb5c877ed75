"""Log records without secrets: the CLI installs this for every command, daemons included."""

from __future__ import annotations

import logging
from collections.abc import Callable

from runner.redaction import Redactor

QUIET_LOGGERS = ("slack_sdk",)
"""Libraries whose DEBUG records dump requests (slack_sdk logs the full webhook URL)."""


class LogRedaction:
    """Redacts every log record of this process as it is created, whatever its handler.

    A record factory rather than a handler filter: daemons replace the root handlers, and
    libraries (slack_sdk, urllib3) log through their own loggers. The message is merged
    with its arguments, and an exception's traceback is formatted, redacted and kept as
    the record's text.
    """

    def __init__(self, redactor: Redactor) -> None:
        self.redactor = redactor
        self._previous: Callable[..., logging.LogRecord] | None = None

    def install(self) -> None:
        """Put the record factory in place (idempotent); quiet the QUIET_LOGGERS below INFO."""
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.INFO)
        if self._previous is not None:
            return
        previous = logging.getLogRecordFactory()
        self._previous = previous

        def factory(*args: object, **kwargs: object) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            self._redact(record)
            return record

        logging.setLogRecordFactory(factory)

    def uninstall(self) -> None:
        """Restore the factory found at ``install``."""
        if self._previous is not None:
            logging.setLogRecordFactory(self._previous)
            self._previous = None

    def _redact(self, record: logging.LogRecord) -> None:
        if not self.redactor:
            return
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: logging reports it at emit time
            return
        record.msg, record.args = self.redactor.redact(message), None
        if record.exc_info:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_info, record.exc_text = None, self.redactor.redact(text)
