"""Rows of the store as frozen values, with aware UTC datetimes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, overload

from runner.model import RunState, TaskState, Trigger


def to_epoch(moment: datetime) -> float:
    """Seconds since the epoch for an aware datetime."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: runwatch stores aware UTC times only")
    return moment.timestamp()


@overload
def from_epoch(seconds: float) -> datetime: ...
@overload
def from_epoch(seconds: None) -> None: ...
@overload
def from_epoch(seconds: float | None) -> datetime | None: ...
def from_epoch(seconds: float | None) -> datetime | None:
    """An aware UTC datetime (exact to the microsecond for stored times), or None."""
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)


@dataclass(frozen=True)
class JobRecord:
    """A job as the store knows it (from the last definitions that were loaded)."""

    name: str
    owner: str | None
    tags: tuple[str, ...]
    schedule: str | None
    timezone: str
    description: str | None
    source: str | None
    paused: bool
    updated_at: datetime
    runbook: str | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> JobRecord:
        """Build from a ``jobs`` row."""
        return cls(
            name=row["name"],
            owner=row["owner"],
            tags=tuple(json.loads(row["tags"])),
            schedule=row["schedule"],
            timezone=row["timezone"],
            description=row["description"],
            source=row["source"],
            paused=bool(row["paused"]),
            updated_at=from_epoch(row["updated_at"]),
            runbook=row.get("runbook"),
        )


@dataclass(frozen=True)
class RunRecord:
    """One run of a job for one logical time."""

    id: int
    job: str
    logical_time: datetime
    trigger: Trigger
    state: RunState
    params: dict[str, str]
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    reason: str | None
    trace_id: str | None
    supervisor: str | None

    @property
    def duration_seconds(self) -> float | None:
        """Wall time from start to finish, once finished."""
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> RunRecord:
        """Build from a ``runs`` row."""
        return cls(
            id=int(row["id"]),
            job=row["job"],
            logical_time=from_epoch(row["logical_time"]),
            trigger=Trigger(row["trigger"]),
            state=RunState(row["state"]),
            params=json.loads(row["params"]),
            queued_at=from_epoch(row["queued_at"]),
            started_at=from_epoch(row["started_at"]),
            finished_at=from_epoch(row["finished_at"]),
            reason=row["reason"],
            trace_id=row["trace_id"],
            supervisor=row["supervisor"],
        )


@dataclass(frozen=True)
class TaskRunRecord:
    """The state of one task within one run, with how many attempts it has had."""

    run_id: int
    task: str
    state: TaskState
    attempts: int
    updated_at: datetime

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> TaskRunRecord:
        """Build from a ``task_runs`` row."""
        return cls(
            run_id=int(row["run_id"]),
            task=row["task"],
            state=TaskState(row["state"]),
            attempts=int(row["attempts"]),
            updated_at=from_epoch(row["updated_at"]),
        )


@dataclass(frozen=True)
class AttemptRecord:
    """One try of a task within a run."""

    id: int
    run_id: int
    job: str
    task: str
    number: int
    state: TaskState
    started_at: datetime
    finished_at: datetime | None
    exit_code: int | None
    signal: int | None
    reason: str | None
    error: str | None
    result: Any
    stdout_path: str | None
    stderr_path: str | None
    pool: str | None
    pid: int | None
    supervisor: str | None
    span_id: str | None
    pid_start: str | None = None
    """When the attempt's process started (``processes.process_start``), to recognise it."""

    @property
    def duration_seconds(self) -> float | None:
        """Wall time of the attempt, once finished."""
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> AttemptRecord:
        """Build from an ``attempts`` row."""
        return cls(
            id=int(row["id"]),
            run_id=int(row["run_id"]),
            job=row["job"],
            task=row["task"],
            number=int(row["number"]),
            state=TaskState(row["state"]),
            started_at=from_epoch(row["started_at"]),
            finished_at=from_epoch(row["finished_at"]),
            exit_code=row["exit_code"],
            signal=row["signal"],
            reason=row["reason"],
            error=row["error"],
            result=None if row["result"] is None else json.loads(row["result"]),
            stdout_path=row["stdout_path"],
            stderr_path=row["stderr_path"],
            pool=row["pool"],
            pid=row["pid"],
            supervisor=row["supervisor"],
            span_id=row["span_id"],
            pid_start=row["pid_start"],
        )
