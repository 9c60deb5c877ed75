"""Trace ids on runwatch's own log records, and the text and JSON log formats.

``TraceContextFilter`` gives every record ``trace_id`` and ``span_id`` attributes: the
span of the run the record is about (its ``run_id`` extra), else the current
OpenTelemetry span (a Python task running in this process), else empty strings. Only the
CLI installs handlers; ``log_handler`` builds the one it needs.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TextIO

from runner.telemetry.ids import SpanIds, SpanIdsSource

LOG_FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Attributes every LogRecord has; anything else on a record came from ``extra``.
_STANDARD = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys()
    | {"message", "asctime", "trace_id", "span_id", "taskName"}
)


class TraceContextFilter(logging.Filter):
    """Adds ``trace_id`` and ``span_id`` (hex, or "" when unknown) to each record."""

    def __init__(self, source: SpanIdsSource | None = None) -> None:
        super().__init__()
        self._source = source

    def filter(self, record: logging.LogRecord) -> bool:
        """Annotate the record; never drops one."""
        if getattr(record, "trace_id", None):
            return True  # given explicitly in ``extra``
        ids = self._ids_of(record)
        record.trace_id = ids.trace_id if ids else ""
        record.span_id = ids.span_id if ids else ""
        return True

    def _ids_of(self, record: logging.LogRecord) -> SpanIds | None:
        run_id = getattr(record, "run_id", None)
        if self._source is not None and isinstance(run_id, int):
            try:
                ids = self._source.span_ids(run_id)
            except Exception:  # a log call must never fail because of tracing
                ids = None
            if ids is not None:
                return ids
        return _current_span_ids()


def _current_span_ids() -> SpanIds | None:
    # Only if OpenTelemetry is loaded already: logging must not import the SDK.
    trace = sys.modules.get("opentelemetry.trace")
    get_current_span = getattr(trace, "get_current_span", None)
    if get_current_span is None:  # not loaded, or still being imported by another thread
        return None
    try:
        context = get_current_span().get_span_context()
    except Exception:  # a log call must never fail because of tracing
        return None
    return SpanIds.of(context) if context.is_valid else None


class TextFormatter(logging.Formatter):
    """The human format, with `` trace_id=… span_id=…`` appended when the record has them."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        """One line (plus a traceback, if any)."""
        text = super().format(record)
        trace_id = getattr(record, "trace_id", "")
        if not trace_id:
            return text
        first, newline, rest = text.partition("\n")
        return (
            f"{first} trace_id={trace_id} span_id={getattr(record, 'span_id', '')}{newline}{rest}"
        )


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the ``extra`` fields
    (job, run_id …), trace_id and span_id when known, and the exception if any."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        for key in ("trace_id", "span_id"):
            value = getattr(record, key, "")
            if value:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def log_handler(
    stream: TextIO, *, log_format: str = "text", source: SpanIdsSource | None = None
) -> logging.Handler:
    """A stream handler in ``log_format`` (text or json) whose records carry trace ids."""
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format {log_format!r}: expected one of {', '.join(LOG_FORMATS)}")
    handler = logging.StreamHandler(stream)
    handler.addFilter(TraceContextFilter(source))
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    return handler


def attempt_log_header(
    *, job: str, task: str, run_id: int, attempt: int, env: Mapping[str, str]
) -> str:
    """The first line of an attempt's log file, tying its output lines to the attempt's span.

    ``# runwatch job=etl task=load run_id=7 attempt=2 trace_id=… span_id=…`` (ids only when
    the attempt is traced).
    """
    line = f"# runwatch job={job} task={task} run_id={run_id} attempt={attempt}"
    ids = SpanIds.from_env(env)
    if ids is not None:
        line += f" trace_id={ids.trace_id} span_id={ids.span_id}"
    return line + "\n"


def configure_daemon_logging(log_format: str, verbose: bool) -> None:
    """Route the root logger of a long-running process (serve, worker) to stderr in
    ``log_format``, at INFO (DEBUG when verbose), with trace ids on records."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(log_handler(sys.stderr, log_format=log_format))
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
