"""The tracing observer: a span per run and per task attempt, timed where the work happens.

The engine is one thread driving many runs at once, so nothing here relies on the
implicit "current span": spans are kept by run id and attempt id, parented explicitly,
and started and ended with explicit timestamps read from one clock at each hook, so a
child never starts before its parent. Every hook catches its own errors —
telemetry never throws into the engine.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Span, SpanContext, SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from runner.clock import Clock, utcnow
from runner.engine.executor import AttemptFinished
from runner.model import Job, RunState, TaskState
from runner.store.records import AttemptRecord, RunRecord
from runner.telemetry.ids import SpanIds

logger = logging.getLogger(__name__)

INSTRUMENTATION_NAME = "runwatch"
STDERR_TAIL_EVENT = "runwatch.stderr_tail"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PROPAGATOR = TraceContextTextMapPropagator()
_FAILED_ATTEMPT = (TaskState.FAILED, TaskState.TIMED_OUT)


def to_nanoseconds(moment: datetime) -> int:
    """Nanoseconds since the epoch, exact to the microsecond (no float rounding)."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def parent_context(traceparent: str | None, tracestate: str | None) -> Context | None:
    """The context a caller handed us in TRACEPARENT/TRACESTATE, or None (also if invalid)."""
    if not traceparent:
        return None
    carrier = {"traceparent": traceparent}
    if tracestate:
        carrier["tracestate"] = tracestate
    context = _PROPAGATOR.extract(carrier)
    if not trace.get_current_span(context).get_span_context().is_valid:
        logger.warning("TRACEPARENT %r is not a valid W3C trace context: ignored", traceparent)
        return None
    return context


def trace_env(context: SpanContext) -> dict[str, str]:
    """TRACEPARENT (and TRACESTATE, when there is one) naming ``context`` as the parent."""
    env = {
        "TRACEPARENT": f"00-{context.trace_id:032x}-{context.span_id:016x}-"
        f"{context.trace_flags:02x}"
    }
    if context.trace_state:
        env["TRACESTATE"] = context.trace_state.to_header()
    return env


@dataclass
class _OpenRun:
    span: Span
    context: Context
    attributes: dict[str, Any]
    """Shared with the run's attempt spans."""
    attempts: set[int] = field(default_factory=set)


@dataclass
class _OpenAttempt:
    span: Span
    run_id: int
    kind: str


class TracingObserver:
    """Implements RunObserver: root span ``run <job>``, child spans ``task <task>`` per attempt."""

    def __init__(
        self,
        provider: TracerProvider,
        *,
        traceparent: str | None = None,
        tracestate: str | None = None,
        clock: Clock = utcnow,
    ) -> None:
        self._provider = provider
        self._tracer = provider.get_tracer(INSTRUMENTATION_NAME)
        self._parent = parent_context(traceparent, tracestate)
        self._clock = clock
        self._runs: dict[int, _OpenRun] = {}
        self._attempts: dict[int, _OpenAttempt] = {}
        self._closed = False

    # -- RunObserver ----------------------------------------------------------------

    def run_started(self, job: Job, run: RunRecord) -> str | None:
        """Open the run span; return its trace id (None when the trace is not sampled)."""
        try:
            return self._run_started(job, run)
        except Exception:
            logger.exception("tracing: cannot start the span of run %s", run.id)
            return None

    def attempt_started(self, job: Job, run: RunRecord, attempt: AttemptRecord) -> dict[str, str]:
        """Open the attempt span; return TRACEPARENT (and TRACESTATE) pointing at it."""
        try:
            return self._attempt_started(job, run, attempt)
        except Exception:
            logger.exception("tracing: cannot start the span of attempt %s", attempt.id)
            return {}

    def attempt_finished(self, attempt: AttemptRecord, outcome: AttemptFinished) -> None:
        """End the attempt span with the outcome's state, exit code and error."""
        try:
            self._attempt_finished(attempt, outcome)
        except Exception:
            logger.exception("tracing: cannot end the span of attempt %s", attempt.id)

    def run_finished(self, run: RunRecord, state: RunState, reason: str | None) -> None:
        """End the run span (and any attempt span left open in it)."""
        try:
            self._run_finished(run.id, state, reason)
        except Exception:
            logger.exception("tracing: cannot end the span of run %s", run.id)

    def close(self) -> None:
        """End spans still open, export what is buffered and shut the provider down."""
        if self._closed:
            return
        self._closed = True
        try:
            for run_id in list(self._runs):
                self._run_finished(run_id, None, "runwatch stopped before the run finished")
            self._provider.force_flush()
            self._provider.shutdown()
        except Exception:
            logger.exception("tracing: flushing spans failed")

    # -- lookups --------------------------------------------------------------------

    def span_ids(self, run_id: int) -> SpanIds | None:
        """The ids of an open run's span, for log records about that run."""
        entry = self._runs.get(run_id)
        if entry is None:
            return None
        return SpanIds.of(entry.span.get_span_context())

    # -- implementation -------------------------------------------------------------

    def _run_started(self, job: Job, run: RunRecord) -> str | None:
        stale = self._runs.get(run.id)
        if stale is not None:  # started again without finishing: close the old span first
            self._run_finished(run.id, None, "run started again")
        attributes: dict[str, Any] = {
            "runwatch.job": job.name,
            "runwatch.run_id": run.id,
            "runwatch.logical_time": run.logical_time.isoformat(),
            "runwatch.trigger": run.trigger.value,
        }
        if job.owner:
            attributes["runwatch.owner"] = job.owner
        span = self._tracer.start_span(
            f"run {job.name}",
            context=self._parent,
            kind=SpanKind.INTERNAL,
            attributes=attributes,
            start_time=to_nanoseconds(self._clock()),
        )
        self._runs[run.id] = _OpenRun(span, trace.set_span_in_context(span), attributes)
        context = span.get_span_context()
        return format(context.trace_id, "032x") if context.trace_flags.sampled else None

    def _attempt_started(self, job: Job, run: RunRecord, attempt: AttemptRecord) -> dict[str, str]:
        entry = self._runs.get(run.id)
        if entry is None:
            logger.warning("tracing: attempt %s started outside a traced run", attempt.id)
            return {}
        task = job.tasks[attempt.task]
        attributes = {
            **entry.attributes,
            "runwatch.task": attempt.task,
            "runwatch.attempt": attempt.number,
            "runwatch.task.kind": task.kind,
        }
        span = self._tracer.start_span(
            f"task {attempt.task}",
            context=entry.context,
            kind=SpanKind.INTERNAL,
            attributes=attributes,
            start_time=to_nanoseconds(self._clock()),
        )
        self._attempts[attempt.id] = _OpenAttempt(span, run.id, task.kind)
        entry.attempts.add(attempt.id)
        return trace_env(span.get_span_context())

    def _attempt_finished(self, attempt: AttemptRecord, outcome: AttemptFinished) -> None:
        entry = self._attempts.pop(attempt.id, None)
        if entry is None:
            return
        run = self._runs.get(entry.run_id)
        if run is not None:
            run.attempts.discard(attempt.id)
        span = entry.span
        end = to_nanoseconds(self._clock())
        attributes: dict[str, Any] = {"runwatch.state": outcome.state.value}
        if entry.kind == "command" and outcome.exit_code is not None:
            attributes["process.exit_code"] = outcome.exit_code
        if outcome.signal is not None:
            attributes["runwatch.signal"] = outcome.signal
        if outcome.reason:
            attributes["runwatch.reason"] = outcome.reason
        span.set_attributes(attributes)
        if outcome.state in _FAILED_ATTEMPT:
            _record_failure(span, entry.kind, outcome, end)
        span.end(end_time=end)

    def _run_finished(self, run_id: int, state: RunState | None, reason: str | None) -> None:
        entry = self._runs.pop(run_id, None)
        if entry is None:
            return
        end = to_nanoseconds(self._clock())
        for attempt_id in entry.attempts:  # the engine ends attempts first; this is a backstop
            leftover = self._attempts.pop(attempt_id, None)
            if leftover is not None:
                leftover.span.set_attribute("runwatch.state", "interrupted")
                leftover.span.end(end_time=end)
        span = entry.span
        span.set_attribute("runwatch.state", state.value if state is not None else "interrupted")
        if reason:
            span.set_attribute("runwatch.reason", reason)
        if state is RunState.FAILED or state is None:
            span.set_status(Status(StatusCode.ERROR, reason or "failed"))
        span.end(end_time=end)


def _record_failure(span: Span, kind: str, outcome: AttemptFinished, at: int) -> None:
    """Status ERROR, and the exception (Python tasks) or the stderr tail (commands) as an event."""
    span.set_status(Status(StatusCode.ERROR, outcome.reason or outcome.state.value))
    if not outcome.error:
        return
    if kind == "python":
        span.add_event("exception", _exception_attributes(outcome), timestamp=at)
    else:
        span.add_event(STDERR_TAIL_EVENT, {"runwatch.stderr_tail": outcome.error}, timestamp=at)


def _exception_attributes(outcome: AttemptFinished) -> dict[str, Any]:
    """OTel's exception event attributes, from the traceback tail the worker reported."""
    error = outcome.error or ""
    last = error.rstrip().splitlines()[-1] if error.strip() else ""
    reason = outcome.reason or ""
    attributes: dict[str, Any] = {"exception.stacktrace": error}
    if reason.startswith("raised "):
        kind = reason.removeprefix("raised ")
        attributes["exception.type"] = kind
        # The traceback's last line reads "module.Kind: message".
        _, sep, message = last.partition(": ")
        attributes["exception.message"] = message if sep else last
    else:
        attributes["exception.message"] = last or reason
    return attributes
