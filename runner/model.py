"""The job model: jobs, tasks, states and rules, as frozen values.

Definitions (YAML, Python, crontab import) are all turned into these classes; the
engine, scheduler and store only ever see these.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runner.taskenv import EnvInherit


class RunState(StrEnum):
    """Where a run is in its life."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        """True for the states a run ends in."""
        return self in (RunState.SUCCESS, RunState.FAILED, RunState.CANCELLED)


class TaskState(StrEnum):
    """Where a task (and each of its attempts) is within one run."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCESS = "success"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    UPSTREAM_FAILED = "upstream_failed"
    SKIPPED = "skipped"
    RETRYING = "retrying"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        """True for the states a task ends in within a run."""
        return self in _FINISHED_TASK_STATES

    @property
    def failed(self) -> bool:
        """True for the states that count as a failure for trigger rules and run outcome."""
        return self in (TaskState.FAILED, TaskState.TIMED_OUT, TaskState.UPSTREAM_FAILED)


_FINISHED_TASK_STATES = frozenset(
    {
        TaskState.SUCCESS,
        TaskState.FAILED,
        TaskState.TIMED_OUT,
        TaskState.UPSTREAM_FAILED,
        TaskState.SKIPPED,
        TaskState.CANCELLED,
    }
)


class TriggerRule(StrEnum):
    """When a task may start, given the states of its upstream tasks (Airflow's words)."""

    ALL_SUCCESS = "all_success"
    ALL_DONE = "all_done"
    ALL_FAILED = "all_failed"
    ONE_FAILED = "one_failed"
    ONE_SUCCESS = "one_success"
    NONE_FAILED = "none_failed"
    NONE_FAILED_MIN_ONE_SUCCESS = "none_failed_min_one_success"


class Trigger(StrEnum):
    """What created a run."""

    SCHEDULE = "schedule"
    MANUAL = "manual"
    BACKFILL = "backfill"
    WRAP = "wrap"


class Overlap(StrEnum):
    """What the scheduler does when a fire time comes while the previous run still runs."""

    SKIP = "skip"
    QUEUE = "queue"
    CANCEL_PREVIOUS = "cancel_previous"


class RepeatedTime(StrEnum):
    """DST policy for wall-clock times that happen twice (fall back)."""

    ONCE = "once"
    BOTH = "both"


class SkippedTime(StrEnum):
    """DST policy for wall-clock times that do not exist (spring forward)."""

    NEXT_VALID = "next_valid"
    SKIP = "skip"


@dataclass(frozen=True)
class DstPolicy:
    """How a schedule behaves at daylight-saving transitions."""

    repeated: RepeatedTime = RepeatedTime.ONCE
    skipped: SkippedTime = SkippedTime.NEXT_VALID


DEFAULT_MAX_MAP = 1000
"""How many instances a mapped task may have unless its ``max_map`` says otherwise."""


def instance_name(task: str, index: int) -> str:
    """The name of one instance of a mapped task: ``process[3]``."""
    return f"{task}[{index}]"


def logical_task(name: str) -> str:
    """The task an instance name belongs to (``process[3]`` -> ``process``); task names
    cannot hold ``[``, so any other name is its own."""
    cut = name.find("[")
    return name if cut < 0 else name[:cut]


class SensorKind(StrEnum):
    """What a sensor waits for."""

    FILE = "file"
    HTTP = "http"
    SQL = "sql"
    JOB = "job"
    COMMAND = "command"
    PYTHON = "python"


class OnTimeout(StrEnum):
    """What a sensor that timed out becomes."""

    FAIL = "fail"
    SKIP = "skip"


@dataclass(frozen=True)
class Sensor:
    """A condition a task waits for, poked every ``interval`` seconds until ``timeout``.

    ``target`` is, by kind: a glob (file), a URL (http), a query (sql), a job name (job),
    an argv tuple or shell string (command), a callable returning true when ready (python).
    """

    kind: SensorKind
    target: Any
    timeout: float
    interval: float = 60.0
    on_timeout: OnTimeout = OnTimeout.FAIL
    status: int = 200
    """The HTTP status that means ready (http)."""
    db_url: str | None = None
    """The database to query (sql)."""


@dataclass(frozen=True)
class UpstreamResult:
    """Placeholder for the return value of an upstream Python task, passed as an argument."""

    task: str


@dataclass(frozen=True)
class Task:
    """One node of a job: a command (argv or shell string) or a Python callable."""

    name: str
    command: tuple[str, ...] | str | None = None
    python: Callable[..., Any] | None = None
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()
    after: tuple[str, ...] = ()
    trigger: TriggerRule = TriggerRule.ALL_SUCCESS
    retries: int = 0
    retry_delay: float = 10.0
    max_retry_delay: float = 600.0
    timeout: float | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    env_inherit: EnvInherit = ()
    """runwatch's secret variables this task still gets (``all``, or names); none by default."""
    cwd: str | None = None
    pool: str | None = None
    queue: str | None = None
    skip_exit_code: int | None = None
    in_process: bool = False
    branch_on_exit: Mapping[int, tuple[str, ...]] = field(default_factory=dict)
    """A command's exit codes that choose downstream tasks (each a success): the other
    direct downstream tasks are skipped."""
    map_over: str | None = None
    """An upstream task whose JSON list result this task runs once per element of."""
    map_param: str | None = None
    """A run parameter holding a JSON list this task runs once per element of."""
    max_map: int = DEFAULT_MAX_MAP
    """The most elements a mapped task runs for; a longer list fails it."""
    sensor: Sensor | None = None
    """A task that waits for a condition instead of running a command or a callable."""

    @property
    def kind(self) -> str:
        """``command``, ``python`` or ``sensor``."""
        if self.sensor is not None:
            return "sensor"
        return "python" if self.python is not None else "command"

    @property
    def mapped(self) -> bool:
        """True when the task runs once per element of a list (``map_over``)."""
        return self.map_over is not None or self.map_param is not None


class Period(StrEnum):
    """The logical period a job-to-job dependency counts successes in."""

    DAY = "day"
    HOUR = "hour"


@dataclass(frozen=True)
class JobDependency:
    """``schedule: {after: [...], period: day}``: run once per period, when every one of
    ``jobs`` has a successful run with a logical time in that period."""

    jobs: tuple[str, ...]
    period: Period = Period.DAY


@dataclass(frozen=True)
class Job:
    """The schedulable unit: a DAG of tasks with its schedule and run-level policies."""

    name: str
    tasks: Mapping[str, Task]
    schedule: str | None = None
    timezone: str = "UTC"
    owner: str | None = None
    tags: tuple[str, ...] = ()
    description: str | None = None
    max_parallel: int | None = None
    timeout: float | None = None
    kill_grace: float = 5.0
    catchup: bool = False
    overlap: Overlap = Overlap.SKIP
    max_active_runs: int = 1
    dst: DstPolicy = field(default_factory=DstPolicy)
    grace: float | None = None
    expected_duration: float | None = None
    params: Mapping[str, str] = field(default_factory=dict)
    pingable: bool = False
    """Remote hosts may report runs of this job through the ping API (its own token)."""
    runbook: str | None = None
    """An http(s) URL every page about this job links to."""
    depends_on: JobDependency | None = None
    """Runs after other jobs (``schedule: {after: …}``); ``schedule`` is then the period's
    start as a cron expression, for lateness and missed runs, never fired by the clock."""
    source: str = "<python>"


@dataclass(frozen=True)
class Definitions:
    """Everything loaded from job files: the jobs by name and the global pools."""

    jobs: Mapping[str, Job]
    pools: Mapping[str, int] = field(default_factory=dict)


class Skip(Exception):  # noqa: N818 - raised by user code to say "skip", not an error
    """Raise from a Python task to record it, and the tasks downstream of it, as skipped."""


BRANCH_KEY = "$branch"
"""The one key of the result a ``Branch`` is stored as."""


class Branch(dict[str, list[str]]):
    """Return from a Python task to run only the named direct downstream tasks; the others
    are skipped with reason ``branch``. ``Branch("load")``, ``Branch("a", "b")``,
    ``Branch(["a", "b"])``; ``Branch()`` skips them all. Stored as the task's result."""

    def __init__(self, *tasks: str | Iterable[str]) -> None:
        names: list[str] = []
        for item in tasks:
            names.extend([item] if isinstance(item, str) else item)
        super().__init__({BRANCH_KEY: list(dict.fromkeys(names))})


def branch_of(result: object) -> tuple[str, ...] | None:
    """The task names a result chooses when it is a ``Branch``, else None."""
    if not isinstance(result, dict) or len(result) != 1:
        return None
    names = result.get(BRANCH_KEY)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return None
    return tuple(names)
