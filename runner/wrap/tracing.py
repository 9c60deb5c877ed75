"""Spans for wrapped runs, through the same observer ``runwatch run`` uses.

Only when ``OTEL_TRACES_EXPORTER`` asks for spans: the OpenTelemetry SDK and the model
are imported then and not before. The run span joins the caller's ``TRACEPARENT``; the
command gets a ``TRACEPARENT`` pointing at its attempt span.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from runner.wrap.report import AttemptReport, RunReport

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    from runner.engine.observer import RunObserver
    from runner.model import Job
    from runner.store.records import AttemptRecord, RunRecord


def tracing_requested(env: Mapping[str, str]) -> bool:
    """True when the ``OTEL_*`` variables ask for spans (cheap: nothing imported)."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    names = {n.strip().lower() for n in env.get("OTEL_TRACES_EXPORTER", "").split(",")}
    return bool(names - {"", "none"})


def _at(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, UTC)


class WrapTracing:
    """Adapts a wrapped run's report to the engine's RunObserver hooks."""

    def __init__(self, observer: RunObserver, argv: Sequence[str]) -> None:
        self._observer = observer
        self._argv = tuple(argv)
        self._job: Job | None = None

    def _job_of(self, report: RunReport) -> Job:
        if self._job is None:
            from runner.model import Job, Task

            task = Task(report.task, command=self._argv)
            spec = report.job
            self._job = Job(
                spec.name,
                {task.name: task},
                schedule=spec.schedule,
                timezone=spec.timezone,
                owner=spec.owner,
                tags=spec.tags,
            )
        return self._job

    def _run(self, report: RunReport, run_id: int | None) -> RunRecord:
        from runner.model import RunState, Trigger
        from runner.store.records import RunRecord

        started = _at(report.started_at)
        assert started is not None
        return RunRecord(
            id=run_id or 0,
            job=report.job.name,
            logical_time=started,
            trigger=Trigger.WRAP,
            state=RunState(report.state),
            params={},
            queued_at=started,
            started_at=started,
            finished_at=_at(report.finished_at),
            reason=report.reason,
            trace_id=report.trace_id,
            supervisor=report.supervisor,
        )

    def _attempt(self, report: RunReport, run_id: int | None, a: AttemptReport) -> AttemptRecord:
        from runner.model import TaskState
        from runner.store.records import AttemptRecord

        started = _at(a.started_at)
        assert started is not None
        return AttemptRecord(
            id=(run_id or 0) * 1000 + a.number,
            run_id=run_id or 0,
            job=report.job.name,
            task=report.task,
            number=a.number,
            state=TaskState(a.state),
            started_at=started,
            finished_at=_at(a.finished_at),
            exit_code=a.exit_code,
            signal=a.signal,
            reason=a.reason,
            error=a.error,
            result=None,
            stdout_path=a.stdout_path,
            stderr_path=a.stderr_path,
            pool=None,
            pid=a.pid,
            supervisor=report.supervisor,
            span_id=None,
        )

    def run_started(self, report: RunReport, run_id: int | None) -> str | None:
        """Open the run span; its trace id."""
        return self._observer.run_started(self._job_of(report), self._run(report, run_id))

    def attempt_started(
        self, report: RunReport, run_id: int | None, attempt: AttemptReport
    ) -> dict[str, str]:
        """Open the attempt span; the environment that hands it to the command."""
        job = self._job_of(report)
        record = self._attempt(report, run_id, attempt)
        return self._observer.attempt_started(job, self._run(report, run_id), record)

    def attempt_finished(
        self, report: RunReport, run_id: int | None, attempt: AttemptReport
    ) -> None:
        """End the attempt span with the attempt's outcome."""
        from runner.engine.executor import AttemptFinished
        from runner.model import TaskState

        record = self._attempt(report, run_id, attempt)
        outcome = AttemptFinished(
            record.id,
            TaskState(attempt.state),
            exit_code=attempt.exit_code,
            signal=attempt.signal,
            error=attempt.error,
            reason=attempt.reason,
        )
        self._observer.attempt_finished(record, outcome)

    def run_finished(self, report: RunReport, run_id: int | None) -> None:
        """End the run span."""
        from runner.model import RunState

        self._observer.run_finished(
            self._run(report, run_id), RunState(report.state), report.reason
        )

    def close(self) -> None:
        """Export the spans."""
        self._observer.close()


def build_wrap_tracing(env: Mapping[str, str], argv: Sequence[str]) -> WrapTracing | None:
    """Tracing for a wrapped run, or None when no exporter is configured.

    Raises TelemetryConfigError when an ``OTEL_*`` variable is invalid.
    """
    if not tracing_requested(env):
        return None
    from runner.engine.observer import NullObserver
    from runner.telemetry.factory import build_tracing

    observer = build_tracing(env)
    if isinstance(observer, NullObserver):
        return None
    return WrapTracing(observer, argv)
