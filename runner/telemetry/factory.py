"""Build the run observer for tracing from an environment mapping (the ``OTEL_*`` variables).

With tracing off — the default — the OpenTelemetry SDK is never imported: it costs more
than a whole ``runwatch run`` of a small job may take.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TextIO

from runner.clock import Clock, utcnow
from runner.engine.observer import NullObserver, RunObserver
from runner.telemetry.config import TelemetryConfigError, tracing_settings

logger = logging.getLogger(__name__)


def build_tracing(
    env: Mapping[str, str],
    *,
    console: TextIO | None = None,
    clock: Clock = utcnow,
    install_global: bool = False,
) -> RunObserver:
    """The observer the engine should use: spans exported as ``OTEL_TRACES_EXPORTER`` says,
    or a no-op observer when it is ``none`` or unset.

    Raises TelemetryConfigError (a DefinitionError: exit 2) when a variable is invalid or
    the exporter's package is missing. ``install_global`` also makes the provider
    OpenTelemetry's global one, so spans that in-process Python tasks create are exported.
    """
    settings = tracing_settings(env)
    if not settings.enabled:
        return NullObserver()
    from opentelemetry import trace  # deferred: only when tracing is on

    from runner.telemetry.provider import build_pipeline, span_exporters
    from runner.telemetry.tracing import TracingObserver

    try:
        pipeline = build_pipeline(settings, span_exporters(settings, console=console))
    except TelemetryConfigError:
        raise
    except Exception:
        # A broken exporter must not stop the jobs: run them untraced, and say so.
        logger.exception("tracing is off: the span exporter could not be set up")
        return NullObserver()
    if install_global:
        trace.set_tracer_provider(pipeline.provider)
    return TracingObserver(
        pipeline, traceparent=settings.traceparent, tracestate=settings.tracestate, clock=clock
    )
