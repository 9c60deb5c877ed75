"""End to end: spans exported over OTLP/HTTP to a real receiver on loopback."""

from __future__ import annotations

import gzip
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from runner.model import RunState
from runner.telemetry.factory import build_tracing
from runner.telemetry.ids import SpanIds
from runner.telemetry.tracing import TracingObserver
from tests.e2e.cli import clean_env
from tests.runner.telemetry.conftest import Harness, job, sh


class Receiver:
    """An OTLP/HTTP trace receiver: decodes every ExportTraceServiceRequest it is sent."""

    def __init__(self) -> None:
        self.requests: list[ExportTraceServiceRequest] = []
        self.paths: list[str] = []
        self.headers: list[dict[str, str]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                receiver.paths.append(self.path)
                receiver.headers.append({k.lower(): v for k, v in self.headers.items()})
                receiver.requests.append(ExportTraceServiceRequest.FromString(body))
                reply = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def spans(self) -> list[Span]:
        return [
            span
            for request in self.requests
            for resource_spans in request.resource_spans
            for scope_spans in resource_spans.scope_spans
            for span in scope_spans.spans
        ]

    def resource(self) -> dict[str, str]:
        resource = self.requests[0].resource_spans[0].resource
        return {a.key: a.value.string_value for a in resource.attributes}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    receiver.thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()


def attributes(span: Span) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for attribute in span.attributes:
        value = attribute.value
        values[attribute.key] = getattr(value, value.WhichOneof("value"))
    return values


@pytest.mark.parametrize("compression", ["none", "gzip"])
def test_spans_reach_an_otlp_http_receiver_with_resource_parents_and_status(
    receiver: Receiver, engine_with: Callable[..., Harness], compression: str
) -> None:
    observer = build_tracing(
        {
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_HEADERS": "x-team=data%20platform",
            "OTEL_EXPORTER_OTLP_COMPRESSION": compression,
            "OTEL_SERVICE_NAME": "nightly-runner",
            "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=test,service.name=ignored",
        }
    )
    assert isinstance(observer, TracingObserver)
    harness = engine_with(observer)
    run = harness.run(job(sh("show", 'echo "$TRACEPARENT"'), sh("fail", "exit 4", after=("show",))))
    harness.engine.close()  # flushes the batch processor, as `runwatch run` does at exit
    [shown] = harness.store.attempts(run.id, "show")
    assert shown.stdout_path is not None
    printed = SpanIds.from_traceparent(Path(shown.stdout_path).read_text().splitlines()[-1])

    spans = {span.name: span for span in receiver.spans()}
    root, show, fail = spans["run etl"], spans["task show"], spans["task fail"]
    assert run.state is RunState.FAILED
    assert set(receiver.paths) == {"/v1/traces"}
    assert receiver.headers[0]["x-team"] == "data platform"
    assert receiver.resource()["service.name"] == "nightly-runner"
    assert receiver.resource()["deployment.environment"] == "test"
    assert root.parent_span_id == b""
    assert show.parent_span_id == root.span_id == fail.parent_span_id
    assert root.trace_id.hex() == run.trace_id
    assert printed == SpanIds(show.trace_id.hex(), show.span_id.hex())
    assert fail.status.code == Status.STATUS_CODE_ERROR
    assert root.status.code == Status.STATUS_CODE_ERROR
    assert show.status.code == Status.STATUS_CODE_UNSET
    assert attributes(fail)["process.exit_code"] == 4
    assert attributes(fail)["runwatch.state"] == "failed"
    assert attributes(root)["runwatch.run_id"] == run.id


def test_a_runwatch_run_process_has_exported_its_spans_when_it_exits(
    receiver: Receiver, tmp_path: Path
) -> None:
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text("jobs:\n  etl:\n    tasks:\n      one:\n        command: 'true'\n")
    env = clean_env(tmp_path)
    env.update(
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_EXPORTER_OTLP_ENDPOINT=receiver.endpoint,
        OTEL_EXPORTER_OTLP_PROTOCOL="http/protobuf",
        OTEL_BSP_SCHEDULE_DELAY="60000",  # nothing leaves before the process ends
    )
    done = subprocess.run(
        [sys.executable, "-m", "runner", "run", "etl", "--jobs", str(jobs)],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "success" in done.stdout.splitlines()[-1]  # its last line, flushed too
    assert {"run etl", "task one"} <= {span.name for span in receiver.spans()}
