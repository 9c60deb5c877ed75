"""The tracer provider built from TracingSettings: resource, sampler, exporters, batching.

Values come from the settings only; the SDK's own fallbacks to ``os.environ`` are
bypassed by passing every value explicitly, so the environment handed to runwatch is
the one that counts.
"""

from __future__ import annotations

# Imported before any TracerProvider exists, on purpose: the SDK re-detects the resource
# in a forked child with a thread pool, from an at-fork hook. If concurrent.futures'
# own at-fork hooks were registered after the provider's, a worker forked by the local
# executor would wait forever on the pool's lock, still held from before the fork.
import concurrent.futures.thread  # noqa: F401
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    ParentBased,
    Sampler,
    TraceIdRatioBased,
)
from opentelemetry.sdk.version import __version__ as sdk_version

from runner.telemetry.config import (
    DEFAULT_SERVICE_NAME,
    Exporter,
    OtlpProtocol,
    TelemetryConfigError,
    TracingSettings,
)
from runner.telemetry.version import runwatch_version

_GRPC_PACKAGE = "opentelemetry-exporter-otlp-proto-grpc"
_HTTP_PACKAGE = "opentelemetry-exporter-otlp-proto-http"


def build_resource(settings: TracingSettings) -> Resource:
    """The resource: ``OTEL_RESOURCE_ATTRIBUTES``, then ``service.name``, SDK facts."""
    attributes: dict[str, str] = {
        "telemetry.sdk.language": "python",
        "telemetry.sdk.name": "opentelemetry",
        "telemetry.sdk.version": sdk_version,
        "service.version": runwatch_version(),
        **settings.resource_attributes,
    }
    # OTEL_SERVICE_NAME wins over a service.name in OTEL_RESOURCE_ATTRIBUTES (the spec).
    if settings.service_name is not None:
        attributes["service.name"] = settings.service_name
    attributes.setdefault("service.name", DEFAULT_SERVICE_NAME)
    return Resource(attributes)


def build_sampler(settings: TracingSettings) -> Sampler:
    """The sampler named by ``OTEL_TRACES_SAMPLER``."""
    name = settings.sampler
    root: Sampler
    if name.endswith("always_off"):
        root = ALWAYS_OFF
    elif name.endswith("traceidratio"):
        root = TraceIdRatioBased(settings.sampler_ratio)
    else:
        root = ALWAYS_ON
    return ParentBased(root) if name.startswith("parentbased_") else root


def span_exporters(
    settings: TracingSettings, *, console: TextIO | None = None
) -> list[SpanExporter]:
    """One exporter per ``OTEL_TRACES_EXPORTER`` entry; the console one writes to ``console``
    (default stderr, so spans never mix with a command's own output on stdout)."""
    exporters: list[SpanExporter] = []
    for kind in settings.exporters:
        if kind is Exporter.CONSOLE:
            exporters.append(ConsoleSpanExporter(out=console or sys.stderr))
        elif settings.protocol is OtlpProtocol.GRPC:
            exporters.append(_grpc_exporter(settings))
        else:
            exporters.append(_http_exporter(settings))
    return exporters


@dataclass(frozen=True)
class SpanPipeline:
    """A tracer provider (resource, sampler, id generator) and the span processors it sends
    ended spans to, one batch processor per exporter."""

    provider: TracerProvider
    processors: tuple[SpanProcessor, ...]


def build_pipeline(settings: TracingSettings, exporters: Sequence[SpanExporter]) -> SpanPipeline:
    """A provider sending spans to each exporter through its own batch processor."""
    provider = TracerProvider(resource=build_resource(settings), sampler=build_sampler(settings))
    processors = tuple(
        BatchSpanProcessor(
            exporter,
            max_queue_size=settings.batch.max_queue_size,
            schedule_delay_millis=settings.batch.schedule_delay_millis,
            max_export_batch_size=min(
                settings.batch.max_export_batch_size, settings.batch.max_queue_size
            ),
        )
        for exporter in exporters
    )
    for processor in processors:
        provider.add_span_processor(processor)
    return SpanPipeline(provider, processors)


def _http_exporter(settings: TracingSettings) -> SpanExporter:
    try:
        from opentelemetry.exporter.otlp.proto.http import Compression
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
            OTLPSpanExporter,
        )
    except ImportError:
        raise TelemetryConfigError(
            f"OTEL_TRACES_EXPORTER=otlp needs the {_HTTP_PACKAGE} package: "
            f"pip install {_HTTP_PACKAGE}"
        ) from None
    compression = (
        Compression(settings.compression) if settings.compression else Compression.NoCompression
    )
    return OTLPSpanExporter(
        endpoint=settings.endpoint,
        headers={k: v.reveal() for k, v in settings.headers.items()},
        timeout=settings.timeout_seconds,
        compression=compression,
        certificate_file=settings.certificate_file,
        client_key_file=settings.client_key_file,
        client_certificate_file=settings.client_certificate_file,
    )


def _grpc_exporter(settings: TracingSettings) -> SpanExporter:
    try:
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # type: ignore[import-not-found]
            OTLPSpanExporter,
        )
    except ImportError:
        raise TelemetryConfigError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs the {_GRPC_PACKAGE} package: "
            f"pip install {_GRPC_PACKAGE}, or set OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf"
        ) from None
    exporter: SpanExporter = OTLPSpanExporter(
        endpoint=settings.endpoint,
        headers=tuple((k, v.reveal()) for k, v in settings.headers.items()),
        timeout=settings.timeout_seconds,
    )
    return exporter
