"""What the dashboard's queries return: frozen values with aware UTC datetimes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Generic, TypeVar

from runner.model import RunState, TaskState, Trigger
from runner.store.alerts import AlertState
from runner.store.notifications import NotificationStatus

T = TypeVar("T")


class Health(StrEnum):
    """A job's health on the overview, worst first."""

    FAILING = "failing"
    LATE = "late"
    RUNNING = "running"
    OK = "ok"
    NEVER_RAN = "never ran"
    PAUSED = "paused"

    @property
    def rank(self) -> int:
        """Sort key: failing jobs first, then late ones."""
        return list(Health).index(self)

    @property
    def broken(self) -> bool:
        """True when someone should look: failing or late."""
        return self in (Health.FAILING, Health.LATE)


@dataclass(frozen=True)
class Headline:
    """The numbers at the top of the overview."""

    runs_today: int
    failed_today: int
    running: int
    firing_alerts: int | None
    """None when the store has no alerting tables."""
    heartbeat_at: datetime | None
    """The newest scheduler heartbeat; None when no scheduler has ever run."""
    heartbeat_state: str | None = None
    """What that scheduler said it was doing (``running``, ``stopped``)."""


@dataclass(frozen=True)
class JobOverview:
    """One row of the overview: a job, its last run and its statistics over the window."""

    name: str
    owner: str | None
    tags: tuple[str, ...]
    schedule: str | None
    timezone: str
    paused: bool
    health: Health
    since: datetime | None
    """Failing since (first failure after the last success) or late since (missed fire)."""
    why: str | None
    """The last failed run's reason and error, one line."""
    last_run_id: int | None
    last_state: RunState | None
    last_run_at: datetime | None
    last_success_at: datetime | None
    next_run_at: datetime | None
    window_runs: int
    window_failures: int
    success_rate: float | None
    p95_seconds: float | None
    firing_alerts: int


@dataclass(frozen=True)
class RunFilter:
    """The runs page's filters; empty means "any"."""

    jobs: tuple[str, ...] = ()
    states: tuple[RunState, ...] = ()
    owner: str | None = None
    tag: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a longer result, with the size of the whole."""

    items: Sequence[T]
    total: int
    number: int
    size: int

    @property
    def pages(self) -> int:
        """How many pages the whole result has (at least one)."""
        return max(1, -(-self.total // self.size))


@dataclass(frozen=True)
class RunRow:
    """A run in the run history."""

    id: int
    job: str
    state: RunState
    trigger: Trigger
    logical_time: datetime
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None
    reason: str | None
    owner: str | None


@dataclass(frozen=True)
class AttemptRow:
    """One try of a task, as the run detail shows it."""

    id: int
    task: str
    number: int
    state: TaskState
    started_at: datetime
    finished_at: datetime | None
    duration_seconds: float | None
    exit_code: int | None
    signal: int | None
    reason: str | None
    error: str | None
    stdout_path: str | None
    stderr_path: str | None
    pool: str | None
    span_id: str | None


@dataclass(frozen=True)
class TaskRow:
    """A task of a run: its state and how many attempts it had."""

    task: str
    state: TaskState
    attempts: int


@dataclass(frozen=True)
class RunDetail:
    """Everything the run page shows."""

    run: RunRow
    params: dict[str, str]
    trace_id: str | None
    supervisor: str | None
    tasks: tuple[TaskRow, ...]
    attempts: tuple[AttemptRow, ...]


@dataclass(frozen=True)
class DurationPoint:
    """A finished run's duration, for the trend chart."""

    run_id: int
    state: RunState
    started_at: datetime
    duration_seconds: float


@dataclass(frozen=True)
class DailyOutcome:
    """How many runs of a job ended how, on one day of the viewer's calendar."""

    day: date
    counts: dict[str, int]
    """Run state -> runs of that day (logical time) in that state."""


@dataclass(frozen=True)
class TaskStats:
    """A task's attempts over the window."""

    task: str
    attempts: int
    retries: int
    failures: int
    p95_seconds: float | None


@dataclass(frozen=True)
class JobWait:
    """A job that runs after other jobs (``schedule: {after: …}``), for the current period."""

    after: tuple[str, ...]
    period: str
    period_start: datetime
    waiting_for: tuple[str, ...]
    """The upstream jobs without a successful run in the period (none once it has run)."""


@dataclass(frozen=True)
class JobDetail:
    """Everything the job page shows."""

    name: str
    owner: str | None
    tags: tuple[str, ...]
    schedule: str | None
    timezone: str
    description: str | None
    paused: bool
    durations: tuple[DurationPoint, ...]
    p50_seconds: float | None
    p95_seconds: float | None
    daily: tuple[DailyOutcome, ...]
    tasks: tuple[TaskStats, ...]
    next_runs: tuple[datetime, ...] = field(default=())


@dataclass(frozen=True)
class NotificationRow:
    """A notification sent (or being sent) about an alert."""

    id: int
    fingerprint: str
    receiver: str
    status: NotificationStatus
    attempts: int
    created_at: datetime
    sent_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class AlertRow:
    """An alert with the notifications sent about it."""

    fingerprint: str
    alertname: str
    severity: str
    job: str
    state: AlertState
    labels: dict[str, str]
    summary: str | None
    starts_at: datetime
    ends_at: datetime | None
    flapping: bool
    notifications: tuple[NotificationRow, ...] = ()


@dataclass(frozen=True)
class SilenceRow:
    """An active silence."""

    id: int
    matchers: tuple[str, ...]
    starts_at: datetime
    ends_at: datetime
    author: str
    comment: str


@dataclass(frozen=True)
class AlertsView:
    """The alerts page: firing, recently resolved, active silences."""

    firing: tuple[AlertRow, ...]
    resolved: tuple[AlertRow, ...]
    silences: tuple[SilenceRow, ...]
