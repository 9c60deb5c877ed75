"""The seam between the engine and telemetry: hooks called where the work happens.

The engine calls an observer at the start and end of every run and attempt. Spans
must be timed where the work happens, so tracing plugs in here; metrics and alerting
read the event log instead. Observers must never raise into the engine.
"""

from __future__ import annotations

from typing import Protocol

from runner.engine.executor import AttemptFinished
from runner.model import Job, RunState
from runner.store.records import AttemptRecord, RunRecord


class RunObserver(Protocol):
    """Receives the life of runs and attempts as it happens."""

    def run_started(self, job: Job, run: RunRecord) -> str | None:
        """A run starts (or resumes); return its trace id to store on the run, if any."""

    def attempt_started(self, job: Job, run: RunRecord, attempt: AttemptRecord) -> dict[str, str]:
        """An attempt starts; return environment to hand to it (e.g. TRACEPARENT)."""

    def attempt_finished(self, attempt: AttemptRecord, outcome: AttemptFinished) -> None:
        """An attempt ended with this outcome."""

    def run_finished(self, run: RunRecord, state: RunState, reason: str | None) -> None:
        """A run ended."""

    def close(self) -> None:
        """Flush what is buffered; called once at exit, also after failures."""


class NullObserver:
    """Observes nothing: the default when telemetry is off."""

    def run_started(self, job: Job, run: RunRecord) -> str | None:
        """Nothing to record."""
        return None

    def attempt_started(self, job: Job, run: RunRecord, attempt: AttemptRecord) -> dict[str, str]:
        """No extra environment."""
        return {}

    def attempt_finished(self, attempt: AttemptRecord, outcome: AttemptFinished) -> None:
        """Nothing to record."""

    def run_finished(self, run: RunRecord, state: RunState, reason: str | None) -> None:
        """Nothing to record."""

    def close(self) -> None:
        """Nothing to flush."""
