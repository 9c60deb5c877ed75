"""Spans of runs and attempts, driven through the real engine, executor and store."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import StatusCode

from runner.engine.executor import AttemptFinished
from runner.model import Job, RunState, Task, TaskState, Trigger
from runner.store.records import AttemptRecord, RunRecord
from runner.telemetry.config import TracingSettings
from runner.telemetry.factory import build_tracing
from runner.telemetry.ids import SpanIds
from runner.telemetry.provider import build_pipeline
from runner.telemetry.tracing import STDERR_TAIL_EVENT, TracingObserver
from tests.runner.telemetry.conftest import Harness, Traced, job, sh, traced_observer

CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


def ids(span: ReadableSpan) -> SpanIds:
    assert span.context is not None
    return SpanIds.of(span.context)


def parent_ids(span: ReadableSpan) -> SpanIds | None:
    return None if span.parent is None else SpanIds.of(span.parent)


def named(spans: Sequence[ReadableSpan], name: str) -> list[ReadableSpan]:
    return sorted(
        (s for s in spans if s.name == name), key=lambda s: s.attributes["runwatch.attempt"]
    )


def current_span_ids() -> list[str]:
    context = trace.get_current_span().get_span_context()
    return [format(context.trace_id, "032x"), format(context.span_id, "016x")]


def reject_rows() -> None:
    raise ValueError("row 7 has no id")


def test_a_run_is_a_root_span_with_a_child_span_per_attempt(
    traced: Traced, engine_with: Callable[..., Harness]
) -> None:
    harness = engine_with(traced.observer)
    run = harness.run(
        job(sh("extract", "true"), sh("load", "true", after=("extract",)), owner="data-team")
    )
    spans = traced.spans()
    [root] = [s for s in spans if s.name == "run etl"]
    tasks = [s for s in spans if s.name.startswith("task ")]
    assert run.state is RunState.SUCCESS
    assert root.parent is None
    assert sorted(s.name for s in tasks) == ["task extract", "task load"]
    assert all(parent_ids(s) == ids(root) for s in tasks)
    assert {ids(s).trace_id for s in spans} == {run.trace_id}
    assert root.status.status_code is StatusCode.UNSET
    assert root.attributes == {
        "runwatch.job": "etl",
        "runwatch.run_id": run.id,
        "runwatch.logical_time": run.logical_time.isoformat(),
        "runwatch.trigger": "manual",
        "runwatch.owner": "data-team",
        "runwatch.state": "success",
    }
    times = [(s.start_time or 0, s.end_time or 0) for s in tasks]
    assert root.start_time is not None
    assert root.end_time is not None
    assert all(root.start_time <= start <= end <= root.end_time for start, end in times)


def test_attempt_spans_carry_job_task_run_attempt_trigger_and_exit_code(
    traced: Traced, engine_with: Callable[..., Harness]
) -> None:
    harness = engine_with(traced.observer)
    run = harness.run(job(sh("load", "exit 0"), owner="ops"), trigger=Trigger.SCHEDULE)
    [span] = named(traced.spans(), "task load")
    assert span.attributes == {
        "runwatch.job": "etl",
        "runwatch.task": "load",
        "runwatch.task.kind": "command",
        "runwatch.run_id": run.id,
        "runwatch.attempt": 1,
        "runwatch.logical_time": run.logical_time.isoformat(),
        "runwatch.owner": "ops",
        "runwatch.trigger": "schedule",
        "runwatch.state": "success",
        "process.exit_code": 0,
    }


def test_retries_are_separate_attempt_spans_and_failed_ones_record_the_stderr_tail(
    traced: Traced, engine_with: Callable[..., Harness], tmp_path: Path
) -> None:
    counter = tmp_path / "tries"
    flaky = (
        f"n=$(cat {counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {counter}; "
        '[ "$n" -ge 3 ] || { echo "disk full on try $n" >&2; exit 3; }'
    )
    harness = engine_with(traced.observer)
    run = harness.run(job(sh("flaky", flaky, retries=2, retry_delay=0.01)))
    spans = traced.spans()
    attempts = named(spans, "task flaky")
    [root] = [s for s in spans if s.name == "run etl"]
    assert run.state is RunState.SUCCESS
    assert [s.attributes["runwatch.attempt"] for s in attempts] == [1, 2, 3]
    assert len({ids(s).span_id for s in attempts}) == 3
    assert all(parent_ids(s) == ids(root) for s in attempts)
    assert [s.status.status_code for s in attempts] == [
        StatusCode.ERROR,
        StatusCode.ERROR,
        StatusCode.UNSET,
    ]
    assert attempts[0].status.description == "exit code 3"
    assert attempts[0].attributes["process.exit_code"] == 3
    assert attempts[0].attributes["runwatch.state"] == "failed"
    [event] = attempts[1].events
    assert event.name == STDERR_TAIL_EVENT
    assert "disk full on try 2" in str(event.attributes["runwatch.stderr_tail"])
    assert attempts[2].events == ()


def test_failed_python_task_records_the_exception_and_fails_the_run_span(
    traced: Traced, engine_with: Callable[..., Harness]
) -> None:
    harness = engine_with(traced.observer)
    run = harness.run(job(Task("validate", python=reject_rows)))
    spans = traced.spans()
    [attempt] = named(spans, "task validate")
    [root] = [s for s in spans if s.name == "run etl"]
    assert run.state is RunState.FAILED
    assert attempt.status.status_code is StatusCode.ERROR
    assert attempt.status.description == "raised ValueError"
    assert "process.exit_code" not in attempt.attributes
    [event] = attempt.events
    assert event.name == "exception"
    assert event.attributes["exception.type"] == "ValueError"
    assert event.attributes["exception.message"] == "row 7 has no id"
    assert "reject_rows" in str(event.attributes["exception.stacktrace"])
    assert root.status.status_code is StatusCode.ERROR
    assert root.status.description == "failed: validate"
    assert root.attributes["runwatch.state"] == "failed"


def test_command_task_receives_its_attempt_span_as_traceparent(
    traced: Traced, engine_with: Callable[..., Harness]
) -> None:
    harness = engine_with(traced.observer)
    run = harness.run(job(sh("show", 'echo "$TRACEPARENT"')))
    [attempt] = harness.store.attempts(run.id)
    assert attempt.stdout_path is not None
    header, printed = Path(attempt.stdout_path).read_text().strip().splitlines()
    [span] = named(traced.spans(), "task show")
    assert SpanIds.from_traceparent(printed) == ids(span)
    assert header.endswith(f"trace_id={ids(span).trace_id} span_id={ids(span).span_id}")
    assert attempt.span_id == ids(span).span_id
    assert int(printed[-2:], 16) & 1  # the sampled flag


def test_python_task_runs_inside_its_attempt_span_context(
    traced: Traced, engine_with: Callable[..., Harness]
) -> None:
    harness = engine_with(traced.observer)
    run = harness.run(job(Task("probe", python=current_span_ids)))
    [span] = named(traced.spans(), "task probe")
    assert harness.store.results(run.id)["probe"] == [ids(span).trace_id, ids(span).span_id]


def test_traceparent_of_an_instrumented_caller_makes_the_run_span_its_child(
    engine_with: Callable[..., Harness],
) -> None:
    traced = traced_observer(
        traceparent=f"00-{CALLER_TRACE}-{CALLER_SPAN}-01", tracestate="vendor=abc"
    )
    harness = engine_with(traced.observer)
    run = harness.run(job(sh("show", 'echo "$TRACESTATE"')))
    [attempt] = harness.store.attempts(run.id)
    assert attempt.stdout_path is not None
    spans = traced.spans()
    [root] = [s for s in spans if s.name == "run etl"]
    assert parent_ids(root) == SpanIds(CALLER_TRACE, CALLER_SPAN)
    assert run.trace_id == CALLER_TRACE
    assert {ids(s).trace_id for s in spans} == {CALLER_TRACE}
    assert Path(attempt.stdout_path).read_text().splitlines()[-1] == "vendor=abc"


def test_an_unsampled_caller_stores_no_trace_id_but_still_propagates_context() -> None:
    traced = traced_observer(traceparent=f"00-{CALLER_TRACE}-{CALLER_SPAN}-00")
    observer = traced.observer
    run, attempt = run_record(), attempt_record()
    assert observer.run_started(etl_job(), run) is None
    env = observer.attempt_started(etl_job(), run, attempt)
    assert env["TRACEPARENT"].startswith(f"00-{CALLER_TRACE}-")
    assert not int(env["TRACEPARENT"][-2:], 16) & 1
    assert traced.spans() == []


class BrokenExporter(SpanExporter):
    """Raises on every export, as a misbehaving exporter might."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        raise ConnectionError("collector exploded")


def test_exporter_errors_never_fail_a_run(engine_with: Callable[..., Harness]) -> None:
    observer = TracingObserver(build_pipeline(TracingSettings(), [BrokenExporter()]))
    harness = engine_with(observer)
    run = harness.run(job(sh("one", "true")))
    observer.close()
    assert run.state is RunState.SUCCESS


def test_an_unreachable_collector_neither_fails_nor_holds_up_the_run(
    engine_with: Callable[..., Harness], unused_port: int
) -> None:
    observer = build_tracing(
        {
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{unused_port}",
            "OTEL_EXPORTER_OTLP_TIMEOUT": "300",
        }
    )
    assert isinstance(observer, TracingObserver)
    harness = engine_with(observer)
    run = harness.run(job(sh("one", "false")))
    started = time.monotonic()
    observer.close()
    assert run.state is RunState.FAILED
    assert time.monotonic() - started < 5


# -- the observer on its own ---------------------------------------------------------

T0 = datetime(2026, 3, 1, 2, 0, tzinfo=UTC)


def etl_job() -> Job:
    return job(sh("load", "true"), Task("py", python=reject_rows))


def run_record(run_id: int = 1) -> RunRecord:
    return RunRecord(
        id=run_id, job="etl", logical_time=T0, trigger=Trigger.SCHEDULE, state=RunState.QUEUED,
        params={}, queued_at=T0, started_at=None, finished_at=None, reason=None, trace_id=None,
        supervisor=None,
    )  # fmt: skip


def attempt_record(attempt_id: int = 10, task: str = "load", number: int = 1) -> AttemptRecord:
    return AttemptRecord(
        id=attempt_id, run_id=1, job="etl", task=task, number=number, state=TaskState.RUNNING,
        started_at=T0 + timedelta(seconds=1), finished_at=None, exit_code=None, signal=None,
        reason=None, error=None, result=None, stdout_path=None, stderr_path=None, pool=None,
        pid=None, supervisor=None, span_id=None,
    )  # fmt: skip


class Ticks:
    """A clock that returns the times it is given, one per call."""

    def __init__(self, *times: datetime) -> None:
        self._times = list(times)

    def __call__(self) -> datetime:
        return self._times.pop(0)


def test_spans_are_timed_by_the_clock_at_each_hook() -> None:
    exporter_holder = traced_observer()
    clock = Ticks(*(T0 + timedelta(seconds=s) for s in (0, 1, 5, 9)))
    observer = TracingObserver(
        build_pipeline(TracingSettings(), [exporter_holder.exporter]), clock=clock
    )
    run, attempt = run_record(), attempt_record()
    observer.run_started(etl_job(), run)
    observer.attempt_started(etl_job(), run, attempt)
    observer.attempt_finished(attempt, AttemptFinished(attempt.id, TaskState.SUCCESS, exit_code=0))
    observer.run_finished(run, RunState.SUCCESS, None)
    observer.close()
    spans = {s.name: s for s in exporter_holder.exporter.get_finished_spans()}
    second = 1_000_000_000
    base = int(T0.timestamp()) * second
    assert (spans["run etl"].start_time, spans["run etl"].end_time) == (base, base + 9 * second)
    assert (spans["task load"].start_time, spans["task load"].end_time) == (
        base + second,
        base + 5 * second,
    )


def test_close_ends_spans_left_open_as_interrupted_errors() -> None:
    traced = traced_observer()
    run, attempt = run_record(), attempt_record()
    traced.observer.run_started(etl_job(), run)
    traced.observer.attempt_started(etl_job(), run, attempt)
    spans = {s.name: s for s in traced.spans()}
    assert spans["run etl"].status.status_code is StatusCode.ERROR
    assert spans["run etl"].attributes["runwatch.state"] == "interrupted"
    assert spans["task load"].attributes["runwatch.state"] == "interrupted"


def test_hooks_never_raise_into_the_engine(traced: Traced) -> None:
    observer = traced.observer
    run = run_record()
    unknown = attempt_record(task="not-in-the-job")
    assert observer.attempt_started(etl_job(), run, attempt_record()) == {}  # run not started
    observer.run_started(etl_job(), run)
    assert observer.attempt_started(etl_job(), run, unknown) == {}
    observer.attempt_finished(unknown, AttemptFinished(unknown.id, TaskState.FAILED))
    observer.run_finished(run_record(run_id=99), RunState.FAILED, "never started")
    observer.close()
    observer.close()


def test_span_ids_of_a_run_are_known_while_it_is_open(traced: Traced) -> None:
    run = run_record()
    trace_id = traced.observer.run_started(etl_job(), run)
    found = traced.observer.span_ids(run.id)
    traced.observer.run_finished(run, RunState.SUCCESS, None)
    assert found is not None
    assert found.trace_id == trace_id
    assert traced.observer.span_ids(run.id) is None


FORK_AFTER_TRACING = """
import os, sys, time
from concurrent.futures import ThreadPoolExecutor
from runner.telemetry.factory import build_tracing

observer = build_tracing({"OTEL_TRACES_EXPORTER": "console"}, console=open(os.devnull, "w"))
with ThreadPoolExecutor(1) as pool:  # a thread pool used after the provider exists
    pool.submit(int).result()
pid = os.fork()  # as the local executor forks its Python workers
if pid == 0:
    os._exit(0)
deadline = time.monotonic() + 10
while not os.waitpid(pid, os.WNOHANG)[0]:
    if time.monotonic() > deadline:
        os.kill(pid, 9)
        sys.exit("the forked child hung")
    time.sleep(0.02)
observer.close()
"""


def test_a_process_forked_after_tracing_started_does_not_hang() -> None:
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", FORK_AFTER_TRACING],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_instances_of_a_mapped_task_are_spans_of_their_task(
    traced: Traced, engine_with: Callable[..., Harness]
) -> None:
    harness = engine_with(traced.observer)
    write = """echo '["a", "b"]' > "$RUNWATCH_RESULT" """
    run = harness.run(job(sh("list", write), sh("each", "true", map_over="list", after=("list",))))
    assert run.state is RunState.SUCCESS
    spans = [s for s in traced.spans() if s.name == "task each"]
    attributes = sorted(
        ((s.attributes or {}).get("runwatch.task.instance") for s in spans), key=str
    )
    assert attributes == ["each[0]", "each[1]"]
    assert {(s.attributes or {}).get("runwatch.task") for s in spans} == {"each"}
