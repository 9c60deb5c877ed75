"""Task states within a run, and the attempts of each task."""

from __future__ import annotations

import json
import logging
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from runner import processes
from runner.errors import NotFoundError, RunLostError
from runner.events import (
    AttemptCancelled,
    AttemptFailed,
    AttemptStarted,
    AttemptSucceeded,
    AttemptTimedOut,
    DatasetUpdated,
    Event,
    TaskPoked,
    TaskSkipped,
    TaskUpstreamFailed,
)
from runner.model import TaskState, logical_task
from runner.store import datasets
from runner.store.eventlog import Part
from runner.store.records import (
    AttemptRecord,
    RunRecord,
    TaskRunRecord,
    from_epoch,
    to_epoch,
)
from runner.store.spine_sql import to_json

logger = logging.getLogger(__name__)


_ATTEMPT_END_EVENTS: dict[TaskState, type[Event]] = {
    TaskState.SUCCESS: AttemptSucceeded,
    TaskState.FAILED: AttemptFailed,
    TaskState.TIMED_OUT: AttemptTimedOut,
    TaskState.CANCELLED: AttemptCancelled,
    TaskState.SKIPPED: TaskSkipped,
}
_RETRYABLE = (TaskState.FAILED, TaskState.TIMED_OUT)


def _process_columns(pid_start: str | None) -> str:
    """SET clause recording an attempt's process: without a start time, one recorded for
    the same pid is kept (a scheduler echoing the pid its worker recorded), any other
    cleared."""
    start = ":start" if pid_start is not None else "CASE WHEN pid = :pid THEN pid_start END"
    return f"pid_start = {start}, pid = :pid"


class AttemptTable(Part):
    """Task rows and attempts: numbering, pool slots, outcomes, results."""

    def task_runs(self, run_id: int) -> dict[str, TaskRunRecord]:
        """The task rows of a run, by task name."""
        self._log.flush_task_states()
        rows = self._db.rows(
            "SELECT * FROM task_runs WHERE run_id = :id ORDER BY task", {"id": run_id}
        )
        return {r["task"]: TaskRunRecord.from_row(r) for r in rows}

    def set_task_state(
        self,
        run: RunRecord,
        task: str,
        state: TaskState,
        at: datetime,
        *,
        reason: str | None = None,
    ) -> None:
        """Set a task's state in a run; skipped and upstream_failed also append their event."""
        at_epoch = to_epoch(at)
        with self._log.recording():
            self._log.supersede_task_state(run.id, task)
            updated = self._db.execute(
                "UPDATE task_runs SET state = :state, updated_at = :at "
                "WHERE run_id = :run_id AND task = :task",
                {"state": state.value, "at": at_epoch, "run_id": run.id, "task": task},
            ).rowcount
            if not updated:
                raise NotFoundError(f"run {run.id} of {run.job} has no task {task!r}")
            if state is TaskState.SKIPPED:
                self._log.insert_event(
                    TaskSkipped(at=at, job=run.job, run_id=run.id, task=task, reason=reason)
                )
            elif state is TaskState.UPSTREAM_FAILED:
                self._log.insert_event(
                    TaskUpstreamFailed(at=at, job=run.job, run_id=run.id, task=task)
                )

    def start_attempt(
        self,
        run: RunRecord,
        task: str,
        at: datetime,
        *,
        pool: str | None = None,
        pool_size: int | None = None,
        log_dir: Path | None = None,
    ) -> AttemptRecord | None:
        """Record a new running attempt of ``task``; None when ``pool`` has no free slot.

        The pool check and the insert are one transaction under the event lock (SQLite's
        write lock), so processes sharing the store never exceed a pool's size between them.
        RunLostError when another process supervises the run now (fencing: a scheduler that
        hung and was taken over never starts an attempt beside its successor's).
        """
        at_epoch = to_epoch(at)
        with self._log.recording():
            if pool is not None and pool_size is not None:
                busy = self._db.scalar(
                    "SELECT COUNT(*) FROM attempts WHERE pool = :pool AND state = 'running'",
                    {"pool": pool},
                )
                if busy >= pool_size:
                    return None
            self._log.supersede_task_state(run.id, task)
            number = self._db.scalar(
                "UPDATE task_runs SET state = 'running', attempts = attempts + 1, "
                "updated_at = :at WHERE run_id = :run_id AND task = :task AND NOT EXISTS "
                "(SELECT 1 FROM runs WHERE id = :run_id AND supervisor <> :sup) "
                "RETURNING attempts",
                {"at": at_epoch, "run_id": run.id, "task": task, "sup": processes.current()},
            )
            if number is None:
                owner = self._db.scalar(
                    "SELECT supervisor FROM runs WHERE id = :id", {"id": run.id}
                )
                if owner is not None and owner != processes.current():
                    raise RunLostError(f"run {run.id} of {run.job} is supervised by {owner} now")
                raise NotFoundError(f"run {run.id} of {run.job} has no task {task!r}")
            out, err = _log_paths(log_dir, run, task, number)
            sup = processes.current()
            attempt_id = self._db.scalar(
                "INSERT INTO attempts (run_id, job, task, number, state, started_at, pool, "
                "supervisor, stdout_path, stderr_path) VALUES (:run_id, :job, :task, :number, "
                "'running', :at, :pool, :sup, :out, :err) RETURNING id",
                {
                    "run_id": run.id,
                    "job": run.job,
                    "task": task,
                    "number": number,
                    "at": at_epoch,
                    "pool": pool,
                    "sup": sup,
                    "out": out,
                    "err": err,
                },
            )
            self._log.insert_event(
                AttemptStarted(
                    at=at, job=run.job, run_id=run.id, task=task, attempt=number, pool=pool
                )
            )
        return AttemptRecord(
            id=int(attempt_id),
            run_id=run.id,
            job=run.job,
            task=task,
            number=number,
            state=TaskState.RUNNING,
            started_at=from_epoch(at_epoch),
            finished_at=None,
            exit_code=None,
            signal=None,
            reason=None,
            error=None,
            result=None,
            stdout_path=out,
            stderr_path=err,
            pool=pool,
            pid=None,
            supervisor=sup,
            span_id=None,
            pid_start=None,
        )

    def set_attempt_process(
        self,
        attempt: AttemptRecord,
        *,
        pid: int | None,
        pid_start: str | None = None,
        span_id: str | None = None,
    ) -> None:
        """Record the process running an attempt (and its span), for recovery and traces.

        ``pid_start`` (``processes.process_start``, read where the process was started)
        lets recovery recognise the process; without it a start recorded for the same pid
        is kept (a scheduler echoing the pid its worker recorded), any other is cleared.
        """
        with self._log.transaction():
            self._db.execute(
                f"UPDATE attempts SET {_process_columns(pid_start)}, "
                "span_id = COALESCE(:span, span_id) WHERE id = :id",
                {"pid": pid, "start": pid_start, "span": span_id, "id": attempt.id},
            )

    def finish_attempt(
        self,
        attempt: AttemptRecord,
        state: TaskState,
        at: datetime,
        *,
        exit_code: int | None = None,
        signal: int | None = None,
        error: str | None = None,
        reason: str | None = None,
        result: Any = None,
        will_retry: bool = False,
        process: tuple[int | None, str | None] | None = None,
    ) -> bool:
        """Record a running attempt's outcome, its task's state and the attempt event.

        ``state`` is success, failed, timed_out, cancelled or skipped; ``will_retry`` (for
        failed and timed_out) leaves the task ``retrying``. ``process`` (pid, pid start)
        records the attempt's process in the same statement, as ``set_attempt_process``
        would, when the engine hears of its launch and its end together. Returns False,
        with nothing written, when the attempt had already finished (e.g. recovered as
        orphaned).
        """
        cls = _ATTEMPT_END_EVENTS.get(state)
        if cls is None:
            raise ValueError(f"an attempt cannot finish as {state.value!r}")
        if will_retry and state not in _RETRYABLE:
            raise ValueError(f"an attempt that ended {state.value!r} is not retried")
        at_epoch = to_epoch(at)
        with self._log.recording():
            pid, pid_start = process or (None, None)
            started = self._db.scalar(
                "UPDATE attempts SET state = :state, finished_at = :at, exit_code = :code, "
                "signal = :sig, error = :error, reason = :reason, result = :result"
                f"{'' if process is None else ', ' + _process_columns(pid_start)} "
                "WHERE id = :id AND state = 'running' RETURNING started_at",
                {
                    "pid": pid,
                    "start": pid_start,
                    "state": state.value,
                    "at": at_epoch,
                    "code": exit_code,
                    "sig": signal,
                    "error": error,
                    "reason": reason,
                    "result": None if result is None else to_json(result),
                    "id": attempt.id,
                },
            )
            if started is None:
                logger.warning(
                    "attempt %s of %s/%s had already finished: %s not recorded",
                    attempt.number, attempt.job, attempt.task, state.value,
                    extra={"job": attempt.job, "run_id": attempt.run_id},
                )  # fmt: skip
                return False
            task_state = TaskState.RETRYING if will_retry else state
            self._log.set_task_state_row(attempt.run_id, attempt.task, task_state.value, at_epoch)
            common: dict[str, Any] = {
                "at": at,
                "job": attempt.job,
                "run_id": attempt.run_id,
                "task": attempt.task,
                "attempt": attempt.number,
            }
            if state is TaskState.SKIPPED:
                self._log.insert_event(TaskSkipped(**common, reason=reason))
                return True
            ended: dict[str, Any] = {
                "duration_seconds": max(0.0, at_epoch - started),
                "exit_code": exit_code,
                "signal": signal,
                "error": error,
                "reason": reason,
            }
            if state in _RETRYABLE:
                ended["will_retry"] = will_retry
            self._log.insert_event(cls(**common, **ended))
            if state is TaskState.SUCCESS and self._may_have_outputs(attempt):
                self._record_dataset_updates(attempt, at, at_epoch)
        return True

    def _may_have_outputs(self, attempt: AttemptRecord) -> bool:
        """False only for a task of a job this store synced that declares no output."""
        synced = self._log.output_tasks.get(attempt.job)
        return synced is None or logical_task(attempt.task) in synced

    def _record_dataset_updates(self, attempt: AttemptRecord, at: datetime, epoch: float) -> None:
        """An update, and its event, of each output the attempt's task declares (a mapped
        instance's, ``process[3]``, are its task's)."""
        task = logical_task(attempt.task)
        updated = datasets.record_updates(
            self._db, attempt.job, attempt.run_id, task, attempt=attempt.number, at=epoch
        )
        for dataset in updated:
            self._log.insert_event(
                DatasetUpdated(
                    at=at,
                    job=attempt.job,
                    run_id=attempt.run_id,
                    task=task,
                    attempt=attempt.number,
                    namespace=dataset.namespace,
                    name=dataset.name,
                )
            )

    def get_attempt(self, attempt_id: int) -> AttemptRecord:
        """The attempt with this id."""
        rows = self._db.rows("SELECT * FROM attempts WHERE id = :id", {"id": attempt_id})
        if not rows:
            raise NotFoundError(f"no attempt with id {attempt_id}")
        return AttemptRecord.from_row(rows[0])

    def attempts(self, run_id: int, task: str | None = None) -> list[AttemptRecord]:
        """The attempts of a run (or of one of its tasks), in start order."""
        extra = " AND task = :task" if task is not None else ""
        rows = self._db.rows(
            f"SELECT * FROM attempts WHERE run_id = :id{extra} ORDER BY id",
            {"id": run_id, "task": task},
        )
        return [AttemptRecord.from_row(r) for r in rows]

    def attempt_totals(self, run_id: int) -> dict[str, tuple[int, float, str | None]]:
        """Per task of a run that has attempts: how many, the seconds the finished ones
        took, and the reason its last one ended with; one query (a run's summary)."""
        rows = self._db.rows(
            "SELECT g.task, g.n, g.seconds, l.reason FROM (SELECT task, COUNT(*) AS n, "
            "SUM(finished_at - started_at) AS seconds, MAX(id) AS last FROM attempts "
            "WHERE run_id = :id GROUP BY task) g JOIN attempts l ON l.id = g.last",
            {"id": run_id},
        )
        return {r["task"]: (int(r["n"]), float(r["seconds"] or 0), r["reason"]) for r in rows}

    def results(self, run_id: int) -> dict[str, Any]:
        """The return values of the successful attempts of a run's Python tasks."""
        rows = self._db.rows(
            "SELECT task, result FROM attempts WHERE run_id = :id AND state = 'success' "
            "AND result IS NOT NULL ORDER BY id",
            {"id": run_id},
        )
        return {r["task"]: json.loads(r["result"]) for r in rows}

    # -- sensors --------------------------------------------------------------------

    def record_poke(
        self, run: RunRecord, task: str, at: datetime, *, ready: bool, detail: str
    ) -> None:
        """Append the event of one poke of a sensor task: a cheap row, not an attempt."""
        with self._log.recording():
            self._log.insert_event(
                TaskPoked(at=at, job=run.job, run_id=run.id, task=task, ready=ready, detail=detail)
            )

    def first_poke(self, run_id: int, task: str) -> datetime | None:
        """When a sensor task of a run was first poked (its wait began), if it was."""
        at = self._db.scalar(
            "SELECT MIN(at) FROM events WHERE run_id = :id AND task = :task "
            "AND type = 'task_poked'",
            {"id": run_id, "task": task},
        )
        return None if at is None else from_epoch(at)

    def job_succeeded_between(self, job: str, start: datetime, end: datetime) -> bool:
        """True when a run of ``job`` with a logical time in [start, end) succeeded."""
        found = self._db.scalar(
            "SELECT COUNT(*) FROM runs WHERE job = :job AND state = 'success' "
            "AND logical_time >= :start AND logical_time < :end",
            {"job": job, "start": to_epoch(start), "end": to_epoch(end)},
        )
        return bool(found)


def attempt_log_paths(
    log_dir: Path, job: str, run_id: int, task: str, number: int
) -> tuple[Path, Path]:
    """Where an attempt's stdout and stderr go under ``log_dir``."""
    out, err = _log_names(log_dir, job, run_id, task, number)
    return Path(out), Path(err)


def _log_names(log_dir: Path, job: str, run_id: int, task: str, number: int) -> tuple[str, str]:
    # os.path, not pathlib: this runs once per attempt, and pathlib's joins cost ~10x more.
    base = os.path.join(log_dir, job, str(run_id), f"{task}.{number}")
    return f"{base}.out", f"{base}.err"


def _log_paths(
    log_dir: Path | None, run: RunRecord, task: str, number: int
) -> tuple[str | None, str | None]:
    if log_dir is None:
        return None, None
    return _log_names(log_dir, run.job, run.id, task, number)
