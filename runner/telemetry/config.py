"""Tracing settings read from the standard ``OTEL_*`` variables of an environment mapping.

This module never imports OpenTelemetry: parsing the settings must stay cheap, because
with tracing off (the default) ``runwatch run`` must not pay for the SDK at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from urllib.parse import unquote

from runner.errors import DefinitionError
from runner.secret import Secret

DEFAULT_SERVICE_NAME = "runwatch"
DEFAULT_HTTP_ENDPOINT = "http://localhost:4318"
DEFAULT_GRPC_ENDPOINT = "http://localhost:4317"
HTTP_TRACES_PATH = "/v1/traces"
DEFAULT_TIMEOUT_SECONDS = 10.0
SAMPLERS = (
    "always_on",
    "always_off",
    "traceidratio",
    "parentbased_always_on",
    "parentbased_always_off",
    "parentbased_traceidratio",
)


class TelemetryConfigError(DefinitionError):
    """An ``OTEL_*`` variable has a value runwatch cannot use; the message names it."""


class Exporter(StrEnum):
    """Where spans go (``OTEL_TRACES_EXPORTER``)."""

    OTLP = "otlp"
    CONSOLE = "console"


class OtlpProtocol(StrEnum):
    """The OTLP transport (``OTEL_EXPORTER_OTLP_PROTOCOL``)."""

    HTTP_PROTOBUF = "http/protobuf"
    GRPC = "grpc"


@dataclass(frozen=True)
class BatchSettings:
    """The batch span processor's knobs (``OTEL_BSP_*``), spec defaults."""

    schedule_delay_millis: float = 5000
    max_queue_size: int = 2048
    max_export_batch_size: int = 512


@dataclass(frozen=True)
class TracingSettings:
    """Everything needed to build the tracer provider; ``exporters`` empty means tracing off."""

    exporters: tuple[Exporter, ...] = ()
    protocol: OtlpProtocol = OtlpProtocol.HTTP_PROTOBUF
    endpoint: str = DEFAULT_HTTP_ENDPOINT + HTTP_TRACES_PATH
    """The full URL spans are sent to (for HTTP, with the ``/v1/traces`` path)."""
    headers: Mapping[str, Secret] = field(default_factory=dict)
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    compression: str | None = None
    certificate_file: str | None = None
    client_key_file: str | None = None
    client_certificate_file: str | None = None
    service_name: str | None = None
    """``OTEL_SERVICE_NAME``; unset, ``service.name`` comes from the resource attributes, else
    ``runwatch``."""
    resource_attributes: Mapping[str, str] = field(default_factory=dict)
    sampler: str = "parentbased_always_on"
    sampler_ratio: float = 1.0
    batch: BatchSettings = field(default_factory=BatchSettings)
    traceparent: str | None = None
    """The caller's W3C trace context: the parent of every run span, when set."""
    tracestate: str | None = None

    @property
    def enabled(self) -> bool:
        """True when spans are exported somewhere."""
        return bool(self.exporters)


def tracing_settings(env: Mapping[str, str]) -> TracingSettings:
    """Read the tracing settings from ``env``; TelemetryConfigError names a bad variable."""
    exporters = _exporters(env)
    protocol = _protocol(env)
    return TracingSettings(
        exporters=exporters,
        protocol=protocol,
        endpoint=_endpoint(env, protocol),
        headers=_headers(env),
        timeout_seconds=_number(env, _signal(env, "TIMEOUT"), DEFAULT_TIMEOUT_SECONDS * 1000)
        / 1000,
        compression=_compression(env),
        certificate_file=_value(env, _signal(env, "CERTIFICATE")),
        client_key_file=_value(env, _signal(env, "CLIENT_KEY")),
        client_certificate_file=_value(env, _signal(env, "CLIENT_CERTIFICATE")),
        service_name=_value(env, "OTEL_SERVICE_NAME"),
        resource_attributes=resource_attributes(env.get("OTEL_RESOURCE_ATTRIBUTES", "")),
        sampler=_sampler(env),
        sampler_ratio=_ratio(env),
        batch=BatchSettings(
            schedule_delay_millis=_number(env, "OTEL_BSP_SCHEDULE_DELAY", 5000),
            max_queue_size=int(_number(env, "OTEL_BSP_MAX_QUEUE_SIZE", 2048)),
            max_export_batch_size=int(_number(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 512)),
        ),
        traceparent=_value(env, "TRACEPARENT"),
        tracestate=_value(env, "TRACESTATE"),
    )


def resource_attributes(text: str) -> dict[str, str]:
    """Parse ``OTEL_RESOURCE_ATTRIBUTES`` (``key=value,key=value``, values %-encoded)."""
    attributes: dict[str, str] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise TelemetryConfigError(
                f"OTEL_RESOURCE_ATTRIBUTES: {item.strip()!r} is not key=value"
            )
        attributes[key.strip()] = unquote(value.strip())
    return attributes


def _value(env: Mapping[str, str], name: str) -> str | None:
    value = env.get(name, "").strip()
    return value or None


def _signal(env: Mapping[str, str], suffix: str) -> str:
    """The traces-specific variable when set, else the general OTLP one."""
    specific = f"OTEL_EXPORTER_OTLP_TRACES_{suffix}"
    return specific if _value(env, specific) is not None else f"OTEL_EXPORTER_OTLP_{suffix}"


def _exporters(env: Mapping[str, str]) -> tuple[Exporter, ...]:
    if (_value(env, "OTEL_SDK_DISABLED") or "").lower() == "true":
        return ()
    names = [n.strip().lower() for n in (_value(env, "OTEL_TRACES_EXPORTER") or "none").split(",")]
    found: list[Exporter] = []
    for name in names:
        if name in ("none", ""):
            continue
        try:
            exporter = Exporter(name)
        except ValueError:
            raise TelemetryConfigError(
                f"OTEL_TRACES_EXPORTER: {name!r} is not supported (use otlp, console or none)"
            ) from None
        if exporter not in found:
            found.append(exporter)
    if "none" in names and found:
        raise TelemetryConfigError("OTEL_TRACES_EXPORTER: 'none' cannot be combined with others")
    return tuple(found)


def _protocol(env: Mapping[str, str]) -> OtlpProtocol:
    name = _signal(env, "PROTOCOL")
    raw = (_value(env, name) or OtlpProtocol.HTTP_PROTOBUF.value).lower()
    try:
        return OtlpProtocol(raw)
    except ValueError:
        raise TelemetryConfigError(
            f"{name}: {raw!r} is not supported (use http/protobuf or grpc)"
        ) from None


def _endpoint(env: Mapping[str, str], protocol: OtlpProtocol) -> str:
    specific = _value(env, "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    if specific is not None:
        return _url("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", specific)
    default = DEFAULT_GRPC_ENDPOINT if protocol is OtlpProtocol.GRPC else DEFAULT_HTTP_ENDPOINT
    base = _url(
        "OTEL_EXPORTER_OTLP_ENDPOINT", _value(env, "OTEL_EXPORTER_OTLP_ENDPOINT") or default
    )
    if protocol is OtlpProtocol.GRPC:
        return base
    # The spec: the general endpoint is a base URL, the signal path is appended to it.
    return base.rstrip("/") + HTTP_TRACES_PATH


def _url(name: str, value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise TelemetryConfigError(f"{name}: {value!r} is not an http:// or https:// URL")
    return value


def _headers(env: Mapping[str, str]) -> dict[str, Secret]:
    name = _signal(env, "HEADERS")
    headers: dict[str, Secret] = {}
    for item in (_value(env, name) or "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            # The value may be a credential: name the variable, never echo it.
            raise TelemetryConfigError(f"{name}: an entry is not key=value")
        headers[key.strip().lower()] = Secret(unquote(value.strip()))
    return headers


def _compression(env: Mapping[str, str]) -> str | None:
    name = _signal(env, "COMPRESSION")
    value = (_value(env, name) or "none").lower()
    if value not in ("none", "gzip", "deflate"):
        raise TelemetryConfigError(f"{name}: {value!r} is not supported (use gzip or none)")
    return None if value == "none" else value


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = _value(env, name)
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise TelemetryConfigError(f"{name}: {raw!r} is not a number") from None
    if value <= 0:
        raise TelemetryConfigError(f"{name}: {raw!r} must be positive")
    return value


def _sampler(env: Mapping[str, str]) -> str:
    value = (_value(env, "OTEL_TRACES_SAMPLER") or "parentbased_always_on").lower()
    if value not in SAMPLERS:
        raise TelemetryConfigError(
            f"OTEL_TRACES_SAMPLER: {value!r} is not supported (use one of {', '.join(SAMPLERS)})"
        )
    return value


def _ratio(env: Mapping[str, str]) -> float:
    raw = _value(env, "OTEL_TRACES_SAMPLER_ARG")
    if raw is None:
        return 1.0
    try:
        ratio = float(raw)
    except ValueError:
        ratio = -1.0
    if not 0.0 <= ratio <= 1.0:
        raise TelemetryConfigError(f"OTEL_TRACES_SAMPLER_ARG: {raw!r} is not a ratio in [0, 1]")
    return ratio
