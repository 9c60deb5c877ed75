"""Event types: past-tense facts appended to the store's event log.

Every state change of a run or task attempt is written once as a row in the store
and as one of these events. Metrics, alerting and dashboards consume the log by
event id; they depend on these classes and the store's public API only.

Fields are typed (datetimes, enums); ``Event.payload`` and ``event_from_row`` are the one
codec of the stored JSON payload: a datetime is stored as ISO 8601 text and an enum as its
value, so rows written before the fields were typed (and by `wrap`'s lean path, which
writes the same text) read back as the same typed events.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, ClassVar

from runner.model import Trigger

_COMMON = ("id", "at", "job", "run_id", "task", "attempt")


@dataclass(frozen=True, kw_only=True)
class Event:
    """Base of all events; ``id`` is assigned by the store (monotonic) and 0 before that."""

    type: ClassVar[str] = "event"
    at: datetime
    job: str
    run_id: int | None = None
    task: str | None = None
    attempt: int | None = None
    id: int = 0

    def payload(self) -> dict[str, Any]:
        """The type-specific fields, as stored in the event's JSON payload (datetimes as
        ISO 8601 text, enums as their values)."""
        return {
            f.name: _encode(getattr(self, f.name))
            for f in dataclasses.fields(self)
            if f.name not in _COMMON
        }


@dataclass(frozen=True, kw_only=True)
class RunQueued(Event):
    """A run was created for a logical time and waits to start."""

    type: ClassVar[str] = "run_queued"
    logical_time: datetime | None = None
    trigger: Trigger | None = None


@dataclass(frozen=True, kw_only=True)
class RunStarted(Event):
    """A run started executing (also after a resume)."""

    type: ClassVar[str] = "run_started"
    logical_time: datetime | None = None
    trigger: Trigger | None = None
    lag_seconds: float | None = None


@dataclass(frozen=True, kw_only=True)
class RunSucceeded(Event):
    """A run finished with every task succeeded or skipped."""

    type: ClassVar[str] = "run_succeeded"
    duration_seconds: float = 0.0


@dataclass(frozen=True, kw_only=True)
class RunFailed(Event):
    """A run finished with at least one failed task, or hit its timeout."""

    type: ClassVar[str] = "run_failed"
    duration_seconds: float = 0.0
    failed_tasks: list[str] = field(default_factory=list)
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class RunCancelled(Event):
    """A run was stopped before it finished (Ctrl-C, SIGTERM, cancel_previous)."""

    type: ClassVar[str] = "run_cancelled"
    duration_seconds: float = 0.0
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class RunSkipped(Event):
    """A fire time came but no run was made (overlap policy); recorded, not dropped."""

    type: ClassVar[str] = "run_skipped"
    logical_time: datetime | None = None
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class RunMissed(Event):
    """A fire time passed its grace period with no run started."""

    type: ClassVar[str] = "run_missed"
    expected_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class RunOverdue(Event):
    """A started run ran longer than its expected duration or timeout."""

    type: ClassVar[str] = "run_overdue"
    expected_seconds: float = 0.0


@dataclass(frozen=True, kw_only=True)
class AttemptStarted(Event):
    """An attempt of a task started."""

    type: ClassVar[str] = "attempt_started"
    pool: str | None = None


@dataclass(frozen=True, kw_only=True)
class _AttemptEnded(Event):
    duration_seconds: float = 0.0
    exit_code: int | None = None
    signal: int | None = None
    error: str | None = None
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class AttemptSucceeded(_AttemptEnded):
    """An attempt finished successfully."""

    type: ClassVar[str] = "attempt_succeeded"


@dataclass(frozen=True, kw_only=True)
class AttemptFailed(_AttemptEnded):
    """An attempt failed (non-zero exit, exception, signal, or orphaned); ``will_retry`` tells."""

    type: ClassVar[str] = "attempt_failed"
    will_retry: bool = False


@dataclass(frozen=True, kw_only=True)
class AttemptTimedOut(_AttemptEnded):
    """An attempt exceeded its timeout and was killed."""

    type: ClassVar[str] = "attempt_timed_out"
    will_retry: bool = False


@dataclass(frozen=True, kw_only=True)
class AttemptCancelled(_AttemptEnded):
    """A running attempt was stopped because its run was cancelled or timed out."""

    type: ClassVar[str] = "attempt_cancelled"


@dataclass(frozen=True, kw_only=True)
class TaskSkipped(Event):
    """A task was skipped: its own skip signal, or a trigger rule that can no longer hold."""

    type: ClassVar[str] = "task_skipped"
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class TaskUpstreamFailed(Event):
    """A task will not run because its upstream tasks failed."""

    type: ClassVar[str] = "task_upstream_failed"


@dataclass(frozen=True, kw_only=True)
class TaskPoked(Event):
    """A sensor task looked at its condition once; ``ready`` ends its wait."""

    type: ClassVar[str] = "task_poked"
    ready: bool = False
    detail: str | None = None


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls
    for cls in (
        RunQueued,
        RunStarted,
        RunSucceeded,
        RunFailed,
        RunCancelled,
        RunSkipped,
        RunMissed,
        RunOverdue,
        AttemptStarted,
        AttemptSucceeded,
        AttemptFailed,
        AttemptTimedOut,
        AttemptCancelled,
        TaskSkipped,
        TaskUpstreamFailed,
        TaskPoked,
    )
}


def event_from_row(
    *,
    id: int,
    type: str,
    at: datetime,
    job: str,
    run_id: int | None,
    task: str | None,
    attempt: int | None,
    payload: dict[str, Any],
) -> Event:
    """Rebuild a typed event from its stored columns; unknown payload keys are ignored."""
    cls = EVENT_TYPES[type]
    extra = read_payload(type, payload)
    return cls(id=id, at=at, job=job, run_id=run_id, task=task, attempt=attempt, **extra)


def read_payload(type: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    """The typed type-specific fields of a stored payload of an event of ``type``
    (unknown keys ignored)."""
    decoders = _DECODERS[type]
    return {k: decoders[k](v) for k, v in payload.items() if k in decoders}


def _encode(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def _datetime(value: object) -> datetime | None:
    """A stored time: ISO 8601 text; ``""`` (the old default) or None is no time."""
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _trigger(value: object) -> Trigger | None:
    return Trigger(value) if isinstance(value, str) and value else None


def _as_stored(value: object) -> object:
    return value


_TYPED = {"logical_time": _datetime, "expected_at": _datetime, "trigger": _trigger}
"""The payload fields stored as text and read back as datetimes or enums."""


_DECODERS: dict[str, dict[str, Any]] = {
    name: {
        f.name: _TYPED.get(f.name, _as_stored)
        for f in dataclasses.fields(cls)
        if f.name not in _COMMON
    }
    for name, cls in EVENT_TYPES.items()
}
"""Per event type: how each type-specific field is read from the stored payload."""
