"""Recording reports in the store: the rows and events of a wrapped run, written leanly.

This writes what ``runner.store.store.Store`` writes for a one-task run — the ``jobs``
row, the run, its task row, its attempts and the same events with the same payloads —
with the statements of ``runner.store.spine_sql`` (import-light, unlike the store).
tests/runner/wrap/test_recorder.py reads everything back through Store and checks
each row, column by column, against what Store's own methods write.

``record`` brings the store in line with a report in one transaction, by looking first:
a run that exists is not created again, an attempt that ended is not ended again, and
every event is appended only by the write that made its change. So recording the same
report twice — two processes replaying the spool at once, a replay killed half way and
run again, a repeated ping — never counts anything twice.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime

from runner.store import spine_sql as sql
from runner.store.spine_sql import to_json
from runner.wrap.report import (
    CANCELLED,
    FAILED,
    RUNNING,
    SUCCESS,
    TIMED_OUT,
    TRIGGER,
    AttemptReport,
    JobSpec,
    Report,
    RunReport,
    SkipReport,
)

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    from runner.store.lean_connection import Connection

_ATTEMPT_EVENTS = {
    SUCCESS: "attempt_succeeded",
    FAILED: "attempt_failed",
    TIMED_OUT: "attempt_timed_out",
    CANCELLED: "attempt_cancelled",
}
_RUN_EVENTS = {SUCCESS: "run_succeeded", FAILED: "run_failed", CANCELLED: "run_cancelled"}
_RETRYABLE = (FAILED, TIMED_OUT)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def record(db: Connection, report: Report, *, log_dir: str | None = None) -> int | None:
    """Bring the store in line with ``report`` in one transaction; the run's id (None for a
    skip). Raises StoreError when the store refuses (locked, unreachable, old schema).

    An attempt new to the store without log files gets them under ``log_dir`` (as
    ``Store.start_attempt`` names them), written back into the report.
    """
    with db.transaction():
        db.serialize_event_writes()
        if isinstance(report, SkipReport):
            register_job(db, report.job, report.at)
            _record_skip(db, report)
            return None
        register_job(db, report.job, report.started_at)
        run_id, state = _ensure_run(db, report)
        for attempt in report.attempts:
            _record_attempt(db, report, run_id, attempt, log_dir)
        if report.state != RUNNING and state in ("queued", RUNNING):
            _finish_run(db, report, run_id)
        return run_id


def set_process(
    db: Connection,
    run_id: int,
    task: str,
    number: int,
    *,
    pid: int,
    pid_start: str | None,
    trace_id: str | None,
) -> None:
    """Record the process of a running attempt (so an orphan recovery can recognise and
    kill it) and the run's trace id, once both are known."""
    with db.transaction():
        db.execute(
            sql.SET_ATTEMPT_PROCESS,
            {"pid": pid, "start": pid_start, "run_id": run_id, "task": task, "number": number},
        )
        if trace_id is not None:
            db.execute(
                sql.SET_RUN_TRACE,
                {"trace": trace_id, "id": run_id},
            )


def register_job(db: Connection, job: JobSpec, at: float) -> None:
    """Insert or update the job's row with what the wrap command line declares at ``at``
    (a report replayed late does not overwrite what a newer one declared)."""
    db.execute(
        sql.REGISTER_WRAPPED_JOB,
        {
            "name": job.name,
            "owner": job.owner,
            "tags": to_json(list(job.tags)),
            "schedule": job.schedule,
            "timezone": job.timezone,
            "at": at,
            "grace": job.grace,
            "expected_duration": job.expected_duration,
            "timeout": job.timeout,
        },
    )
    _declare_datasets(db, job)


def _declare_datasets(db: Connection, job: JobSpec) -> None:
    """The job's one task reads and writes what the wrap command line declares now."""
    db.execute(sql.FORGET_DECLARED_DATASETS, {"job": job.name})
    for direction, declared in (("input", job.inputs), ("output", job.outputs)):
        for dataset in declared:
            db.execute(
                sql.DECLARE_DATASET,
                {
                    "job": job.name,
                    "task": job.name,
                    "direction": direction,
                    "namespace": dataset.namespace,
                    "name": dataset.name,
                },
            )


def stored_job(db: Connection, name: str) -> Mapping[str, object] | None:
    """The job's row as the store holds it, or None."""
    rows = db.rows(sql.STORED_JOB, {"name": name})
    return rows[0] if rows else None


def _event(
    db: Connection,
    kind: str,
    at: float,
    job: str,
    payload: Mapping[str, object],
    *,
    run_id: int | None = None,
    task: str | None = None,
    attempt: int | None = None,
) -> None:
    db.execute(
        sql.INSERT_EVENT,
        {
            "at": at,
            "type": kind,
            "job": job,
            "run_id": run_id,
            "task": task,
            "attempt": attempt,
            "payload": to_json(payload),
        },
    )


def _record_skip(db: Connection, report: SkipReport) -> None:
    job = report.job.name
    seen = db.scalar(sql.SKIP_SEEN, {"job": job, "at": report.at})
    if seen is None:
        payload = {"logical_time": _iso(report.at), "reason": report.reason}
        _event(db, "run_skipped", report.at, job, payload)


def _ensure_run(db: Connection, report: RunReport) -> tuple[int, str]:
    """The run's id and stored state, creating it (queued, then started) if it is new."""
    job = report.job.name
    found = db.rows(sql.RUN_OF_LOGICAL_TIME, {"job": job, "lt": report.logical_time})
    if found:
        return _int(found[0]["id"]), str(found[0]["state"])
    run_id = db.scalar(
        sql.INSERT_WRAPPED_RUN,
        {
            "job": job,
            "lt": report.logical_time,
            "trigger": TRIGGER,
            "at": report.started_at,
            "sup": report.supervisor,
            "trace": report.trace_id,
        },
    )
    run_id = _int(run_id)
    db.execute(
        sql.INSERT_TASK_RUN,
        {
            "run_id": run_id,
            "task": report.task,
            "at": report.started_at,
            "upstream": sql.NO_UPSTREAM,
        },
    )
    logical = _iso(report.logical_time)
    queued = {"logical_time": logical, "trigger": TRIGGER}
    started = {"logical_time": logical, "trigger": TRIGGER, "lag_seconds": None}
    _event(db, "run_queued", report.started_at, job, queued, run_id=run_id)
    _event(db, "run_started", report.started_at, job, started, run_id=run_id)
    return run_id, RUNNING


def _int(value: object) -> int:
    assert isinstance(value, int), value
    return value


def _record_attempt(
    db: Connection, report: RunReport, run_id: int, attempt: AttemptReport, log_dir: str | None
) -> None:
    job, task = report.job.name, report.task
    key = {"run_id": run_id, "task": task, "number": attempt.number}
    found = db.rows(sql.ATTEMPT_STATE, key)
    if not found:
        if log_dir is not None and attempt.stdout_path is None:
            base = os.path.join(log_dir, job, str(run_id), f"{task}.{attempt.number}")
            attempt.stdout_path, attempt.stderr_path = f"{base}.out", f"{base}.err"
        db.execute(
            sql.TASK_RUN_STARTED,
            {**key, "at": attempt.started_at},
        )
        db.execute(
            sql.INSERT_WRAPPED_ATTEMPT,
            {
                **key,
                "job": job,
                "at": attempt.started_at,
                "sup": report.supervisor,
                "pid": attempt.pid,
                "start": attempt.pid_start,
                "out": attempt.stdout_path,
                "err": attempt.stderr_path,
            },
        )
        _event(
            db,
            "attempt_started",
            attempt.started_at,
            job,
            {"pool": None},
            run_id=run_id,
            task=task,
            attempt=attempt.number,
        )
    elif found[0]["state"] != RUNNING:
        return
    if attempt.state != RUNNING:
        _finish_attempt(db, job, task, run_id, attempt, has_outputs=bool(report.job.outputs))


def _finish_attempt(
    db: Connection, job: str, task: str, run_id: int, attempt: AttemptReport, *, has_outputs: bool
) -> None:
    assert attempt.finished_at is not None
    started = db.scalar(
        sql.FINISH_ATTEMPT,
        {
            "state": attempt.state,
            "at": attempt.finished_at,
            "code": attempt.exit_code,
            "sig": attempt.signal,
            "error": attempt.error,
            "reason": attempt.reason,
            "pid": attempt.pid,
            "out": attempt.stdout_path,
            "err": attempt.stderr_path,
            "run_id": run_id,
            "task": task,
            "number": attempt.number,
        },
    )
    if started is None:
        return
    retrying = attempt.will_retry and attempt.state in _RETRYABLE
    db.execute(
        sql.TASK_RUN_ENDED,
        {
            "state": "retrying" if retrying else attempt.state,
            "at": attempt.finished_at,
            "run_id": run_id,
            "task": task,
        },
    )
    assert isinstance(started, int | float)
    payload: dict[str, object] = {
        "duration_seconds": max(0.0, attempt.finished_at - started),
        "exit_code": attempt.exit_code,
        "signal": attempt.signal,
        "error": attempt.error,
        "reason": attempt.reason,
    }
    if attempt.state in _RETRYABLE:
        payload["will_retry"] = retrying
    _event(
        db,
        _ATTEMPT_EVENTS[attempt.state],
        attempt.finished_at,
        job,
        payload,
        run_id=run_id,
        task=task,
        attempt=attempt.number,
    )
    if attempt.state == SUCCESS and has_outputs:  # no statement for a job without outputs
        _record_dataset_updates(db, job, task, run_id, attempt)


def _record_dataset_updates(
    db: Connection, job: str, task: str, run_id: int, attempt: AttemptReport
) -> None:
    """As ``Store.finish_attempt``: an update, and its event, of each declared output."""
    assert attempt.finished_at is not None
    updated = db.rows(
        sql.RECORD_DATASET_UPDATES,
        {
            "job": job,
            "run_id": run_id,
            "task": task,
            "attempt": attempt.number,
            "at": attempt.finished_at,
        },
    )
    for row in updated:
        _event(
            db,
            "dataset_updated",
            attempt.finished_at,
            job,
            {"namespace": row["namespace"], "name": row["name"]},
            run_id=run_id,
            task=task,
            attempt=attempt.number,
        )


def _finish_run(db: Connection, report: RunReport, run_id: int) -> None:
    assert report.finished_at is not None
    started = db.scalar(
        sql.FINISH_RUN,
        {"state": report.state, "at": report.finished_at, "reason": report.reason, "id": run_id},
    )
    if started is None:
        return
    # A retry the end came before (an interrupted wait) will not happen: as the engine does
    # for a cancelled run, the task ends cancelled, without an event of its own.
    db.execute(
        sql.CANCEL_WAITING_TASKS,
        {"at": report.finished_at, "id": run_id},
    )
    assert isinstance(started, int | float)
    payload: dict[str, object] = {"duration_seconds": max(0.0, report.finished_at - started)}
    if report.state != SUCCESS:
        payload["reason"] = report.reason
    if report.state == FAILED:
        payload["failed_tasks"] = [report.task]
    _event(
        db, _RUN_EVENTS[report.state], report.finished_at, report.job.name, payload, run_id=run_id
    )
