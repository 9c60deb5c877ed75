"""Trace ids on runwatch's own log records; the JSON log format; attempt log headers."""

from __future__ import annotations

import io
import json
import logging
import sys
import types
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider

from runner.model import RunState
from runner.telemetry.ids import SpanIds
from runner.telemetry.log_formats import (
    TraceContextFilter,
    attempt_log_header,
    log_handler,
)
from tests.runner.telemetry.conftest import Traced
from tests.runner.telemetry.test_tracing import etl_job, run_record


@pytest.fixture
def logger_writing_to() -> Iterator[Callable[..., logging.Logger]]:
    """A logger with one ``log_handler`` on a stream; the handler is removed afterwards."""
    made: list[tuple[logging.Logger, logging.Handler]] = []

    def make(stream: io.StringIO, **options: Any) -> logging.Logger:
        logger = logging.getLogger(f"runner.test.{id(stream)}")
        logger.propagate = False
        logger.setLevel(logging.INFO)
        handler = log_handler(stream, **options)
        logger.addHandler(handler)
        made.append((logger, handler))
        return logger

    yield make
    for logger, handler in made:
        logger.removeHandler(handler)


def test_records_about_a_traced_run_carry_its_trace_and_span_ids(
    traced: Traced, logger_writing_to: Callable[..., logging.Logger]
) -> None:
    stream = io.StringIO()
    logger = logger_writing_to(stream, log_format="json", source=traced.observer)
    run = run_record()
    trace_id = traced.observer.run_started(etl_job(), run)
    ids = traced.observer.span_ids(run.id)
    logger.warning("task %s is slow", "load", extra={"job": "etl", "run_id": run.id})
    traced.observer.run_finished(run, RunState.SUCCESS, None)
    logger.info("unrelated")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert ids is not None
    assert first["message"] == "task load is slow"
    assert (first["level"], first["job"], first["run_id"]) == ("warning", "etl", run.id)
    assert (first["trace_id"], first["span_id"]) == (trace_id, ids.span_id)
    assert first["time"].endswith("+00:00")
    assert "trace_id" not in second


def test_records_inside_an_active_span_carry_its_ids(
    logger_writing_to: Callable[..., logging.Logger],
) -> None:
    stream = io.StringIO()
    logger = logger_writing_to(stream)
    tracer = TracerProvider().get_tracer("test")
    with tracer.start_as_current_span("user work") as span:
        logger.info("inside")
    logger.info("outside")
    inside, outside = stream.getvalue().splitlines()
    ids = SpanIds.of(span.get_span_context())
    assert inside.endswith(f"inside trace_id={ids.trace_id} span_id={ids.span_id}")
    assert outside.endswith("outside")
    assert trace.get_current_span().get_span_context().is_valid is False


def test_json_records_hold_the_exception_and_never_fail_on_odd_extras(
    logger_writing_to: Callable[..., logging.Logger],
) -> None:
    stream = io.StringIO()
    logger = logger_writing_to(stream, log_format="json")
    try:
        raise KeyError("missing")
    except KeyError:
        logger.exception("boom", extra={"at": object()})
    entry = json.loads(stream.getvalue())
    assert "KeyError: 'missing'" in entry["exception"]
    assert entry["at"].startswith("<object")


def test_the_filter_never_drops_a_record_and_defaults_to_empty_ids() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "msg", None, None)
    assert TraceContextFilter().filter(record)
    assert (record.trace_id, record.span_id) == ("", "")  # type: ignore[attr-defined]


def test_a_record_logged_while_another_thread_imports_opentelemetry_gets_empty_ids(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # What another thread's import leaves in sys.modules until it finishes: the module,
    # without its functions yet. serve once died of that (AttributeError, exit 70).
    monkeypatch.setitem(sys.modules, "opentelemetry.trace", types.ModuleType("opentelemetry.trace"))
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "msg", None, None)

    assert TraceContextFilter().filter(record)
    assert (record.trace_id, record.span_id) == ("", "")  # type: ignore[attr-defined]


def test_attempt_log_header_ties_output_lines_to_the_attempt_span() -> None:
    env = {"TRACEPARENT": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
    assert attempt_log_header(job="etl", task="load", run_id=7, attempt=2, env=env) == (
        "# runwatch job=etl task=load run_id=7 attempt=2 "
        "trace_id=4bf92f3577b34da6a3ce929d0e0e4736 span_id=00f067aa0ba902b7\n"
    )
    assert attempt_log_header(job="etl", task="load", run_id=7, attempt=1, env={}).endswith(
        "attempt=1\n"
    )


def test_malformed_traceparents_give_no_ids() -> None:
    for value in (None, "", "garbage", "ff-" + "1" * 32 + "-" + "2" * 16 + "-01",
                  "00-" + "0" * 32 + "-" + "2" * 16 + "-01"):  # fmt: skip
        assert SpanIds.from_traceparent(value) is None
