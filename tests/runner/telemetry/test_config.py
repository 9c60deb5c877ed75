"""Tracing settings from OTEL_* variables, and the observer built from them."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from runner.engine.observer import NullObserver
from runner.model import RunState
from runner.telemetry.config import (
    Exporter,
    OtlpProtocol,
    TelemetryConfigError,
    tracing_settings,
)
from runner.telemetry.factory import build_tracing
from runner.telemetry.provider import build_resource, build_sampler, span_exporters
from runner.telemetry.tracing import TracingObserver
from tests.runner.telemetry.test_tracing import etl_job, run_record


def test_tracing_is_off_unless_an_exporter_is_named() -> None:
    assert not tracing_settings({}).enabled
    assert not tracing_settings({"OTEL_TRACES_EXPORTER": "none"}).enabled
    assert not tracing_settings(
        {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_SDK_DISABLED": "true"}
    ).enabled
    assert isinstance(build_tracing({}), NullObserver)


def test_tracing_off_never_imports_the_sdk_or_prometheus_client() -> None:
    code = (
        "import sys, json; from runner.telemetry import build_tracing; build_tracing({}); "
        "print(json.dumps(sorted(m for m in sys.modules "
        "if m.startswith(('opentelemetry', 'prometheus_client')))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_otlp_http_settings_follow_the_spec_defaults_and_overrides() -> None:
    default = tracing_settings({"OTEL_TRACES_EXPORTER": "otlp"})
    assert default.exporters == (Exporter.OTLP,)
    assert default.protocol is OtlpProtocol.HTTP_PROTOBUF
    assert default.endpoint == "http://localhost:4318/v1/traces"
    assert default.timeout_seconds == 10
    given = tracing_settings(
        {
            "OTEL_TRACES_EXPORTER": "otlp,console",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "https://collector:4318/",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "2500",
            "OTEL_EXPORTER_OTLP_HEADERS": "Authorization=Bearer%20tok,x-a=b",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
        }
    )
    assert given.exporters == (Exporter.OTLP, Exporter.CONSOLE)
    assert given.endpoint == "https://collector:4318/v1/traces"
    assert given.timeout_seconds == 2.5
    assert given.headers["authorization"].reveal() == "Bearer tok"
    assert "tok" not in repr(given)
    assert given.batch.schedule_delay_millis == 200
    specific = tracing_settings(
        {
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://general:4318",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://traces:9999/custom",
        }
    )
    assert specific.endpoint == "http://traces:9999/custom"
    grpc = tracing_settings({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"})
    assert grpc.endpoint == "http://localhost:4317"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "OTEL_TRACES_EXPORTER: 'zipkin' is not supported"),
        ({"OTEL_TRACES_EXPORTER": "otlp,none"}, "'none' cannot be combined"),
        ({"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, "OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json'"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"}, "is not an http:// or https:// URL"),
        (
            {"OTEL_EXPORTER_OTLP_TIMEOUT": "soon"},
            "OTEL_EXPORTER_OTLP_TIMEOUT: 'soon' is not a number",
        ),
        ({"OTEL_RESOURCE_ATTRIBUTES": "team"}, "OTEL_RESOURCE_ATTRIBUTES: 'team' is not key=value"),
        ({"OTEL_TRACES_SAMPLER": "sometimes"}, "OTEL_TRACES_SAMPLER: 'sometimes'"),
        ({"OTEL_TRACES_SAMPLER_ARG": "2"}, "OTEL_TRACES_SAMPLER_ARG: '2' is not a ratio"),
    ],
)
def test_bad_variables_are_definition_errors_naming_the_variable(
    env: dict[str, str], message: str
) -> None:
    with pytest.raises(TelemetryConfigError, match=message):
        tracing_settings(env)


def test_a_secret_header_value_is_never_echoed_in_the_error() -> None:
    with pytest.raises(TelemetryConfigError) as caught:
        tracing_settings({"OTEL_EXPORTER_OTLP_HEADERS": "tok3n-without-equals"})
    assert "tok3n" not in str(caught.value)


def test_grpc_without_its_package_says_which_package_to_install() -> None:
    try:
        import opentelemetry.exporter.otlp.proto.grpc  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("the gRPC exporter is installed here")
    env = {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}
    with pytest.raises(
        TelemetryConfigError, match="pip install opentelemetry-exporter-otlp-proto-grpc"
    ):
        build_tracing(env)


def test_service_name_and_resource_attributes_make_the_resource() -> None:
    resource = build_resource(
        tracing_settings(
            {"OTEL_RESOURCE_ATTRIBUTES": "service.name=from-attrs,team=data%2Fplatform"}
        )
    ).attributes
    assert (resource["service.name"], resource["team"]) == ("from-attrs", "data/platform")
    named = build_resource(
        tracing_settings({"OTEL_SERVICE_NAME": "etl", "OTEL_RESOURCE_ATTRIBUTES": "service.name=x"})
    ).attributes
    assert named["service.name"] == "etl"
    assert build_resource(tracing_settings({})).attributes["service.name"] == "runwatch"


def test_samplers_are_built_from_their_names() -> None:
    ratio = build_sampler(
        tracing_settings({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "0.25"})
    )
    assert "0.25" in ratio.get_description()
    assert build_sampler(tracing_settings({})).get_description().startswith("ParentBased")


def test_console_exporter_writes_spans_to_the_given_stream() -> None:
    stream = io.StringIO()
    observer = build_tracing({"OTEL_TRACES_EXPORTER": "console"}, console=stream)
    assert isinstance(observer, TracingObserver)
    run = run_record()
    observer.run_started(etl_job(), run)
    observer.run_finished(run, RunState.SUCCESS, None)
    observer.close()
    assert '"name": "run etl"' in stream.getvalue()
    assert len(span_exporters(tracing_settings({"OTEL_TRACES_EXPORTER": "console"}))) == 1
