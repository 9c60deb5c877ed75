"""A small store seeded through the real Store (and alerting) API with a fixed clock.

At NOW (2024-05-01 12:00 UTC):

- ``billing`` (hourly at :00) succeeded at 07:00, 08:00 and 09:00, failed at 10:00 and
  11:00: failing since the 10:00 run finished, with a firing alert and notifications.
- ``reports`` (hourly at :15) last ran at 09:15: late since the 10:15 fire time.
- ``streaming`` has a run in progress.
- ``nightly-etl`` (01:30 Europe/Berlin) succeeded every night; last night's ``transform``
  failed once and succeeded on its retry. Its run has parameters (one secret-looking),
  a trace id and captured logs.
- ``adhoc-export`` has no schedule and one manual run; ``cleanup`` is paused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from alerting.alerts import Alert
from alerting.matchers import parse_matcher
from alerting.notification import Notification, NotifiedAlert, NotifiedStatus
from alerting.outbox import claim, enqueue
from alerting.silences import add_silence
from alerting.state import save_alerts
from runner.model import Job, RunState, Task, TaskState, Trigger
from runner.store.alerts import AlertState
from runner.store.notifications import mark_failed, mark_sent
from runner.store.records import RunRecord
from runner.store.store import Store

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
WEBHOOK = "https://hooks.slack.com/services/T000/B000/XXXXSECRET"
TRANSFORM_ERROR = "Traceback (most recent call last):\n  ...\nConnectionError: db timeout"
BILLING_ERROR = "Traceback (most recent call last):\n  ...\nKeyError: 'amount'"


def _job(name: str, tasks: dict[str, tuple[str, ...]], **kwargs: object) -> Job:
    return Job(
        name=name,
        tasks={t: Task(t, command=("true",), after=after) for t, after in tasks.items()},
        **kwargs,  # type: ignore[arg-type]
    )


JOBS = {
    "billing": _job(
        "billing",
        {"fetch": (), "charge": ("fetch",)},
        schedule="0 * * * *",
        owner="finance",
        tags=("hourly", "money"),
    ),
    "reports": _job(
        "reports", {"render": ()}, schedule="15 * * * *", owner="data", tags=("hourly",)
    ),
    "streaming": _job("streaming", {"consume": ()}, owner="platform", tags=("stream",)),
    "nightly-etl": _job(
        "nightly-etl",
        {"extract": (), "transform": ("extract",), "load": ("transform",)},
        schedule="30 1 * * *",
        timezone="Europe/Berlin",
        owner="data",
        tags=("nightly", "etl"),
        description="Loads yesterday's orders into the warehouse.",
    ),
    "adhoc-export": _job("adhoc-export", {"export": ()}, owner="data"),
    "cleanup": _job("cleanup", {"vacuum": ()}, schedule="0 3 * * *", owner="platform"),
}


@dataclass(frozen=True)
class Seeded:
    """What the tests look for."""

    retried_run: int
    billing_runs: tuple[int, ...]
    failing_since: datetime
    log_dir: Path


def seed(store: Store, log_dir: Path) -> Seeded:
    """Fill ``store`` as the module docstring says."""
    store.sync_jobs(JOBS.values(), NOW - timedelta(days=3))
    store.set_paused("cleanup", True)
    billing = [_billing_run(store, hours, fail=hours <= 2) for hours in (5, 4, 3, 2, 1)]
    for hours in (5, 4, 3):
        _simple_run(store, "reports", NOW - timedelta(hours=hours) + timedelta(minutes=15), 40)
    _simple_run(store, "cleanup", NOW - timedelta(days=2, hours=9), 5)
    _simple_run(store, "adhoc-export", NOW - timedelta(minutes=30), 12, trigger=Trigger.MANUAL)
    _running_run(store)
    for days in (2, 1):
        _nightly_run(store, days, log_dir, retry=False)
    retried = _nightly_run(store, 0, log_dir, retry=True)
    _alerts(store)
    store.heartbeat("scheduler:host:1234", NOW - timedelta(seconds=30), {"state": "running"})
    failed_first = store.get_run(billing[3])
    assert failed_first.finished_at is not None
    return Seeded(retried, tuple(billing), failed_first.finished_at, log_dir)


def _start(
    store: Store,
    job: str | Job,
    logical: datetime,
    trigger: Trigger = Trigger.SCHEDULE,
    params: dict[str, str] | None = None,
    trace_id: str | None = None,
) -> RunRecord:
    definition = job if isinstance(job, Job) else JOBS[job]
    run = store.create_run(definition, logical, trigger, logical, params)
    assert run is not None
    assert store.mark_run_started(run, logical + timedelta(seconds=1), trace_id=trace_id)
    return store.get_run(run.id)


def _attempt(
    store: Store,
    run: RunRecord,
    task: str,
    at: datetime,
    seconds: float,
    state: TaskState = TaskState.SUCCESS,
    *,
    log_dir: Path | None = None,
    error: str | None = None,
    retry: bool = False,
) -> datetime:
    attempt = store.start_attempt(run, task, at, log_dir=log_dir)
    assert attempt is not None
    if attempt.stdout_path:
        Path(attempt.stdout_path).parent.mkdir(parents=True, exist_ok=True)
        lines = [f"{task} attempt {attempt.number}: line {i}" for i in range(300)]
        Path(attempt.stdout_path).write_text("\n".join(lines) + "\n")
        if error:
            assert attempt.stderr_path is not None
            Path(attempt.stderr_path).write_text(error + "\n")
    end = at + timedelta(seconds=seconds)
    code = 0 if state is TaskState.SUCCESS else 3
    store.finish_attempt(attempt, state, end, exit_code=code, error=error, will_retry=retry)
    return end


def _billing_run(store: Store, hours: int, *, fail: bool) -> int:
    run = _start(store, "billing", NOW - timedelta(hours=hours))
    at = _attempt(store, run, "fetch", run.logical_time + timedelta(seconds=2), 30)
    state = TaskState.FAILED if fail else TaskState.SUCCESS
    at = _attempt(
        store, run, "charge", at, 60 if fail else 90, state, error=BILLING_ERROR if fail else None
    )
    outcome = RunState.FAILED if fail else RunState.SUCCESS
    reason = "task charge failed" if fail else None
    store.mark_run_finished(
        run, outcome, at, reason=reason, failed_tasks=["charge"] if fail else []
    )
    return run.id


def _simple_run(
    store: Store, job: str, logical: datetime, seconds: float, trigger: Trigger = Trigger.SCHEDULE
) -> int:
    run = _start(store, job, logical, trigger)
    task = next(iter(JOBS[job].tasks))
    end = _attempt(store, run, task, logical + timedelta(seconds=2), seconds)
    store.mark_run_finished(run, RunState.SUCCESS, end)
    return run.id


def _running_run(store: Store) -> None:
    run = _start(store, "streaming", NOW - timedelta(minutes=10), Trigger.MANUAL)
    assert store.start_attempt(run, "consume", NOW - timedelta(minutes=10)) is not None


def _nightly_run(store: Store, days_ago: int, log_dir: Path, *, retry: bool) -> int:
    # 01:30 in Berlin (CEST, UTC+2) is 23:30 UTC the evening before
    logical = datetime(2024, 4, 30, 23, 30, tzinfo=UTC) - timedelta(days=days_ago)
    params = {"day": logical.date().isoformat(), "api_token": "s3cr3t-token"} if retry else None
    run = _start(store, "nightly-etl", logical, params=params, trace_id=TRACE_ID if retry else None)
    at = _attempt(store, run, "extract", logical + timedelta(seconds=2), 60, log_dir=log_dir)
    if retry:
        at = _attempt(
            store,
            run,
            "transform",
            at,
            20,
            TaskState.FAILED,
            log_dir=log_dir,
            error=TRANSFORM_ERROR,
            retry=True,
        )
        at += timedelta(seconds=10)
    at = _attempt(store, run, "transform", at, 120, log_dir=log_dir)
    at = _attempt(store, run, "load", at, 45, log_dir=log_dir)
    store.mark_run_finished(run, RunState.SUCCESS, at)
    return run.id


def _alerts(store: Store) -> None:
    firing_at = NOW - timedelta(hours=2)
    billing = Alert(
        fingerprint="f1f1f1f1f1f1f1f1",
        alertname="JobFailed",
        severity="critical",
        job="billing",
        state=AlertState.FIRING,
        labels={"alertname": "JobFailed", "job": "billing", "severity": "critical"},
        annotations={"summary": "billing failed twice in a row"},
        details={},
        starts_at=firing_at.timestamp(),
        ends_at=None,
        updated_at=firing_at.timestamp(),
        dirty=True,
    )
    resolved = Alert(
        fingerprint="e2e2e2e2e2e2e2e2",
        alertname="TaskRetried",
        severity="warning",
        job="nightly-etl",
        state=AlertState.RESOLVED,
        labels={"alertname": "TaskRetried", "job": "nightly-etl", "severity": "warning"},
        annotations={"summary": "transform needed a retry"},
        details={},
        starts_at=(NOW - timedelta(hours=12)).timestamp(),
        ends_at=(NOW - timedelta(hours=11)).timestamp(),
        updated_at=(NOW - timedelta(hours=11)).timestamp(),
        dirty=True,
    )
    with store.transaction():
        save_alerts(store, [billing, resolved])
    note = Notification(
        receiver="slack-oncall",
        group_key='{}:{job="billing"}',
        group_labels={"job": "billing"},
        alerts=(
            NotifiedAlert(
                fingerprint=billing.fingerprint,
                status=NotifiedStatus.FIRING,
                labels=billing.labels,
                annotations=billing.annotations,
                starts_at=firing_at,
            ),
        ),
        created_at=firing_at,
    )
    sent = enqueue(store, note, firing_at)
    assert claim(store, sent, "sender-1", firing_at, 30) is not None
    assert mark_sent(store, sent, "sender-1", firing_at + timedelta(seconds=1))
    failed = enqueue(store, note, firing_at + timedelta(seconds=5), receiver="pagerduty-oncall")
    assert claim(store, failed, "sender-1", firing_at + timedelta(seconds=5), 30) is not None
    assert mark_failed(store, failed, "sender-1", f"HTTP 404 from {WEBHOOK}")
    add_silence(
        store,
        [parse_matcher('job="cleanup"')],
        NOW - timedelta(hours=1),
        NOW + timedelta(hours=5),
        author="alice",
        comment="vacuum maintenance",
    )


FAST_ETL = _job(
    "fast-etl",
    {
        "extract": (),
        "validate": ("extract",),
        "transform": ("validate",),
        "load": ("transform",),
        "report": ("load",),
        "notify": ("load",),
    },
    owner="data",
)
FAST_ATTEMPTS = (
    ("extract", 0.000, 0.004, TaskState.SUCCESS),
    ("validate", 0.004, 0.124, TaskState.SUCCESS),
    ("transform", 0.124, 0.324, TaskState.FAILED),
    ("transform", 0.424, 0.724, TaskState.FAILED),
    ("transform", 0.824, 1.274, TaskState.SUCCESS),
    ("load", 1.274, 2.124, TaskState.SUCCESS),
    ("report", 2.124, 2.184, TaskState.SUCCESS),
    ("notify", 2.124, 2.126, TaskState.SUCCESS),
)
"""(task, start, end in seconds after the run started, state): sub-second tasks, and a
task that failed twice before it succeeded."""


def seed_fast_run(store: Store) -> int:
    """A finished run of FAST_ETL with FAST_ATTEMPTS, started at NOW; its id."""
    store.sync_jobs([FAST_ETL], NOW)
    run = _start(store, FAST_ETL, NOW - timedelta(seconds=1), Trigger.MANUAL)
    began = NOW
    for number, (task, start, end, state) in enumerate(FAST_ATTEMPTS):
        retry = any(t == task for t, *_ in FAST_ATTEMPTS[number + 1 :])
        _attempt(
            store,
            run,
            task,
            began + timedelta(seconds=start),
            end - start,
            state,
            error="ValueError: bad row" if state is TaskState.FAILED else None,
            retry=retry,
        )
    store.mark_run_finished(run, RunState.SUCCESS, began + timedelta(seconds=2.2))
    return run.id
