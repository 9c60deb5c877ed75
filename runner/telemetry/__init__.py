"""Telemetry: OpenTelemetry spans for runs and attempts, Prometheus metrics from the event
log, trace ids on log records.

Names are imported on first use, so ``import runner.telemetry`` costs nothing and the
OpenTelemetry SDK and prometheus_client load only when tracing or metrics are on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from runner.lazy_names import lazy_names as _lazy_names

if TYPE_CHECKING:
    from runner.telemetry.config import TelemetryConfigError, TracingSettings, tracing_settings
    from runner.telemetry.consumer import MetricsConsumer
    from runner.telemetry.factory import build_tracing
    from runner.telemetry.health import Health, HeartbeatHealth
    from runner.telemetry.ids import SpanIds, SpanIdsSource
    from runner.telemetry.links import check_trace_url, trace_link
    from runner.telemetry.log_formats import (
        JsonFormatter,
        TextFormatter,
        TraceContextFilter,
        attempt_log_header,
        log_handler,
    )
    from runner.telemetry.metrics import MetricsCollector
    from runner.telemetry.pushgateway import push_run_metrics
    from runner.telemetry.tracing import TracingObserver

_HOMES = {
    "Health": "health",
    "HeartbeatHealth": "health",
    "JsonFormatter": "log_formats",
    "MetricsCollector": "metrics",
    "MetricsConsumer": "consumer",
    "SpanIds": "ids",
    "SpanIdsSource": "ids",
    "TelemetryConfigError": "config",
    "TextFormatter": "log_formats",
    "TraceContextFilter": "log_formats",
    "TracingObserver": "tracing",
    "TracingSettings": "config",
    "attempt_log_header": "log_formats",
    "build_tracing": "factory",
    "check_trace_url": "links",
    "log_handler": "log_formats",
    "push_run_metrics": "pushgateway",
    "trace_link": "links",
    "tracing_settings": "config",
}

__all__ = [
    "Health",
    "HeartbeatHealth",
    "JsonFormatter",
    "MetricsCollector",
    "MetricsConsumer",
    "SpanIds",
    "SpanIdsSource",
    "TelemetryConfigError",
    "TextFormatter",
    "TraceContextFilter",
    "TracingObserver",
    "TracingSettings",
    "attempt_log_header",
    "build_tracing",
    "check_trace_url",
    "log_handler",
    "push_run_metrics",
    "trace_link",
    "tracing_settings",
]


__getattr__, __dir__ = _lazy_names(__name__, _HOMES, globals())
