"""What the alert engine remembers about each job between events: open runs, the last
failure, consecutive failures and the last success. Stored as JSON per job."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from runner.events import (
    AttemptFailed,
    AttemptTimedOut,
    DatasetUpdated,
    Event,
    RunCancelled,
    RunFailed,
    RunQueued,
    RunStarted,
    RunSucceeded,
)
from runner.store.records import JobRecord
from runner.store.spine_sql import to_json

_FAILURE_KEYS = ("task", "attempt", "exit_code", "signal", "error")
_ERROR_CHARS = 1000


@dataclass(frozen=True)
class JobInfo:
    """A job's descriptive labels, from the store's job table."""

    owner: str | None = None
    tags: tuple[str, ...] = ()
    paused: bool = False
    runbook: str | None = None

    @classmethod
    def from_record(cls, record: JobRecord) -> JobInfo:
        """From the store's job row."""
        return cls(record.owner, record.tags, record.paused, record.runbook)

    def labels(self, job: str) -> dict[str, str]:
        """``job``, ``owner`` and ``tags`` (comma-joined) as labels; empty ones left out."""
        labels = {"job": job}
        if self.owner:
            labels["owner"] = self.owner
        if self.tags:
            labels["tags"] = ",".join(self.tags)
        return labels


@dataclass
class OpenRun:
    """A run that was queued or started and has not finished."""

    logical_time: float | None = None
    started_at: float | None = None
    failure: dict[str, Any] = field(default_factory=dict)


@dataclass
class JobFacts:
    """The per-job memory of the alert engine (mutable; one instance per job)."""

    first_seen_at: float | None = None
    last_success_at: float | None = None
    consecutive_failures: int = 0
    last_failure: dict[str, Any] = field(default_factory=dict)
    open_runs: dict[str, OpenRun] = field(default_factory=dict)
    datasets: dict[tuple[str, str], tuple[str, float]] = field(default_factory=dict)
    """The datasets the job's tasks updated: (namespace, name) -> (task, last update)."""

    def apply(self, event: Event) -> None:
        """Update the facts with one event (before rules look at it)."""
        at = event.at.timestamp()
        if self.first_seen_at is None:
            self.first_seen_at = at
        key = str(event.run_id)
        if isinstance(event, RunQueued | RunStarted):
            run = self.open_runs.setdefault(key, OpenRun())
            if event.logical_time is not None:
                run.logical_time = event.logical_time.timestamp()
            if isinstance(event, RunStarted) and run.started_at is None:
                run.started_at = at
        elif isinstance(event, AttemptFailed | AttemptTimedOut) and not event.will_retry:
            run = self.open_runs.setdefault(key, OpenRun())
            run.failure = {
                "task": event.task,
                "attempt": event.attempt,
                "exit_code": event.exit_code,
                "signal": event.signal,
                "error": event.error[-_ERROR_CHARS:] if event.error else None,
            }
        elif isinstance(event, DatasetUpdated):
            self.datasets[(event.namespace, event.name)] = (event.task or "", at)
        elif isinstance(event, RunSucceeded | RunFailed | RunCancelled):
            closed = self.open_runs.pop(key, OpenRun())
            self.last_failure = closed.failure
            if isinstance(event, RunSucceeded):
                self.last_success_at = at
                self.consecutive_failures = 0
            elif isinstance(event, RunFailed):
                self.consecutive_failures += 1

    def to_json(self) -> str:
        """The facts as stored."""
        return to_json(
            {
                "first_seen_at": self.first_seen_at,
                "last_success_at": self.last_success_at,
                "consecutive_failures": self.consecutive_failures,
                "last_failure": self.last_failure,
                "open_runs": {
                    k: [r.logical_time, r.started_at, r.failure] for k, r in self.open_runs.items()
                },
                "datasets": [
                    [ns, name, task, at] for (ns, name), (task, at) in self.datasets.items()
                ],
            }
        )

    @classmethod
    def from_json(cls, text: str) -> JobFacts:
        """Facts as stored by ``to_json``."""
        data = json.loads(text)
        return cls(
            first_seen_at=data.get("first_seen_at"),
            last_success_at=data.get("last_success_at"),
            consecutive_failures=int(data.get("consecutive_failures", 0)),
            last_failure=data.get("last_failure") or {},
            open_runs={
                k: OpenRun(v[0], v[1], v[2] or {}) for k, v in data.get("open_runs", {}).items()
            },
            datasets={(ns, name): (task, at) for ns, name, task, at in data.get("datasets", [])},
        )
