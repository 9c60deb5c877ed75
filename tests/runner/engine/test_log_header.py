"""Captured output of a traced attempt carries its trace and span ids."""

from __future__ import annotations

from runner.model import Task, TaskState
from tests.runner.engine.conftest import Attempts

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def greet() -> None:
    print("hello from python")


def test_a_traced_command_attempt_log_starts_with_its_trace_and_span_ids(
    attempts: Attempts,
) -> None:
    spec = attempts.submit(
        Task("t", command="echo out; echo err >&2"), env={"TRACEPARENT": TRACEPARENT}
    )
    assert attempts.finished(spec).state is TaskState.SUCCESS
    assert spec.stdout_path is not None
    assert spec.stderr_path is not None
    header = (
        "# runwatch job=job task=t run=1 attempt=1 "
        "trace_id=0af7651916cd43dd8448eb211c80319c span_id=b7ad6b7169203331\n"
    )
    assert spec.stdout_path.read_text() == header + "out\n"
    assert spec.stderr_path.read_text() == header + "err\n"


def test_a_traced_python_attempt_log_carries_the_ids_too(attempts: Attempts) -> None:
    spec = attempts.submit(Task("p", python=greet), env={"TRACEPARENT": TRACEPARENT})
    assert attempts.finished(spec).state is TaskState.SUCCESS
    assert spec.stdout_path is not None
    lines = spec.stdout_path.read_text().splitlines()
    assert lines[0].endswith("trace_id=0af7651916cd43dd8448eb211c80319c span_id=b7ad6b7169203331")
    assert lines[1:] == ["hello from python"]


def test_without_tracing_the_log_is_exactly_the_output(attempts: Attempts) -> None:
    spec = attempts.submit(Task("t", command="echo out"))
    assert attempts.finished(spec).state is TaskState.SUCCESS
    assert spec.stdout_path is not None
    assert spec.stdout_path.read_text() == "out\n"
