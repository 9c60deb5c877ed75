"""Trace and span ids as hex strings, and the W3C ``traceparent`` they travel in.

No OpenTelemetry import: log records and attempt logs need ids even with tracing off.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from opentelemetry.trace import SpanContext

_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")
_TRACE_ID = re.compile(r"[0-9a-f]{32}")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


def is_trace_id(value: object) -> bool:
    """True for a W3C trace id: 32 lowercase hex digits, not all zero."""
    return isinstance(value, str) and bool(_TRACE_ID.fullmatch(value)) and value != _ZERO_TRACE


@dataclass(frozen=True)
class SpanIds:
    """A span's trace id (32 hex digits) and span id (16 hex digits)."""

    trace_id: str
    span_id: str

    @classmethod
    def of(cls, context: SpanContext) -> SpanIds:
        """The ids of an OpenTelemetry span context."""
        return cls(format(context.trace_id, "032x"), format(context.span_id, "016x"))

    @classmethod
    def from_traceparent(cls, value: str | None) -> SpanIds | None:
        """Parse a W3C ``traceparent`` header value; None when absent or malformed."""
        match = _TRACEPARENT.match((value or "").strip().lower())
        if match is None or match.group(1) == "ff":
            return None
        trace_id, span_id = match.group(2), match.group(3)
        if trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
            return None
        return cls(trace_id, span_id)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SpanIds | None:
        """The ids in an attempt's environment (its ``TRACEPARENT``), if any."""
        return cls.from_traceparent(env.get("TRACEPARENT"))


@runtime_checkable
class SpanIdsSource(Protocol):
    """Knows the span of a run in progress (the tracing observer does)."""

    def span_ids(self, run_id: int) -> SpanIds | None:
        """The ids of the run's span, or None when it is not traced here."""
