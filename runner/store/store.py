"""The store: runs, task runs, attempts and the append-only event log.

Every state change is one transaction that updates the row and appends its event, so
the event log and the tables never disagree. Writes made inside ``transaction()`` are
committed together (the engine groups the changes of one loop turn).

State changes are conditional UPDATEs (``… WHERE state = 'running'``): when two
processes race for the same change (two ``serve`` processes claiming a run, two
recoveries of one orphan), one wins, and only the winner appends the event.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from runner import supervisor
from runner.errors import NotFoundError, StoreError
from runner.events import (
    AttemptCancelled,
    AttemptFailed,
    AttemptStarted,
    AttemptSucceeded,
    AttemptTimedOut,
    Event,
    RunCancelled,
    RunFailed,
    RunQueued,
    RunStarted,
    RunSucceeded,
    TaskSkipped,
    TaskUpstreamFailed,
    event_from_row,
)
from runner.model import Job, RunState, TaskState, Trigger
from runner.store.database import Database, parse_url
from runner.store.records import (
    AttemptRecord,
    JobRecord,
    RunRecord,
    TaskRunRecord,
    from_epoch,
    to_epoch,
)
from runner.store.recovery import ORPHANED, kill_leftover

logger = logging.getLogger(__name__)

__all__ = ["ORPHANED", "Store"]

_ATTEMPT_END_EVENTS: dict[TaskState, type[Event]] = {
    TaskState.SUCCESS: AttemptSucceeded,
    TaskState.FAILED: AttemptFailed,
    TaskState.TIMED_OUT: AttemptTimedOut,
    TaskState.CANCELLED: AttemptCancelled,
    TaskState.SKIPPED: TaskSkipped,
}
_RETRYABLE = (TaskState.FAILED, TaskState.TIMED_OUT)
_RUN_END_EVENTS: dict[RunState, type[RunSucceeded | RunFailed | RunCancelled]] = {
    RunState.SUCCESS: RunSucceeded,
    RunState.FAILED: RunFailed,
    RunState.CANCELLED: RunCancelled,
}
_FINISHED_RUN = "('success', 'failed', 'cancelled')"


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


class Store:
    """Read and write runwatch's state; open it with ``Store.open``."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @classmethod
    def open(cls, url: str, *, migrate: bool = True, recover: bool = True) -> Store:
        """Open the store at ``url``: create a fresh schema, check an existing one is current,
        and (``recover``) mark attempts whose supervisor died as orphaned."""
        from runner.store.migrate import HEAD, REVISIONS  # constants; Alembic stays unloaded

        parsed = parse_url(url)
        db = Database(parsed)
        try:
            revision = (
                db.scalar("SELECT version_num FROM alembic_version")
                if db.table_exists("alembic_version")
                else None
            )
            if revision != HEAD:
                if revision is not None and revision not in REVISIONS:
                    raise StoreError(
                        f"database {parsed.redacted} is at schema {revision}, newer than this "
                        f"runwatch (schema {HEAD}): upgrade runwatch"
                    )
                if not migrate:
                    raise StoreError(
                        f"database {parsed.redacted} is at schema {revision or 'none'}, "
                        f"this runwatch needs {HEAD}: run `runwatch db upgrade`"
                    )
                cls._upgrade(db, revision)
            store = cls(db)
            if recover:
                store.recover_orphans()
        except BaseException:
            db.close()
            raise
        return store

    @staticmethod
    def _upgrade(db: Database, revision: str | None) -> None:
        from runner.store import migrate  # Alembic only when the schema must change

        logger.info("migrating %s from %s to %s", db.url.redacted, revision, migrate.HEAD)
        migrate.upgrade(db.url)

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes into one commit; a nested block that fails undoes only its writes."""
        with self.db.transaction():
            yield

    @contextmanager
    def _recording(self) -> Iterator[None]:
        """A write transaction that appends events: it takes the event lock before any
        row lock, so all writers lock in one order."""
        with self.db.transaction():
            self.db.serialize_event_writes()
            yield

    # -- events -------------------------------------------------------------------

    def append(self, event: Event) -> int:
        """Append an event to the log and return its id."""
        with self._recording():
            return self._insert_event(event)

    def _insert_event(self, event: Event) -> int:
        event_id = self.db.scalar(
            "INSERT INTO events (at, type, job, run_id, task, attempt, payload) "
            "VALUES (:at, :type, :job, :run_id, :task, :attempt, :payload) RETURNING id",
            {
                "at": to_epoch(event.at),
                "type": event.type,
                "job": event.job,
                "run_id": event.run_id,
                "task": event.task,
                "attempt": event.attempt,
                "payload": _json(event.payload()),
            },
        )
        return int(event_id)

    def events_after(
        self, after_id: int, *, limit: int = 1000, job: str | None = None
    ) -> list[Event]:
        """Events with id greater than ``after_id``, oldest first."""
        where = "id > :after" + (" AND job = :job" if job is not None else "")
        rows = self.db.rows(
            f"SELECT * FROM events WHERE {where} ORDER BY id LIMIT :limit",
            {"after": after_id, "limit": limit, "job": job},
        )
        return [
            event_from_row(
                id=int(r["id"]),
                type=r["type"],
                at=from_epoch(float(r["at"])),
                job=r["job"],
                run_id=r["run_id"],
                task=r["task"],
                attempt=r["attempt"],
                payload=json.loads(r["payload"]),
            )
            for r in rows
        ]

    def last_event_id(self) -> int:
        """The newest event id, 0 when the log is empty."""
        return int(self.db.scalar("SELECT COALESCE(MAX(id), 0) FROM events"))

    # -- jobs ---------------------------------------------------------------------

    def sync_jobs(self, jobs: Iterable[Job], at: datetime) -> None:
        """Record the loaded definitions of these jobs (keeping their paused flag)."""
        rows = [
            {
                "name": j.name,
                "owner": j.owner,
                "tags": _json(list(j.tags)),
                "schedule": j.schedule,
                "timezone": j.timezone,
                "description": j.description,
                "source": j.source,
                "grace": j.grace,
                "expected_duration": j.expected_duration,
                "timeout": j.timeout,
                "at": to_epoch(at),
            }
            for j in jobs
        ]
        with self.db.transaction():
            self.db.executemany(
                "INSERT INTO jobs (name, owner, tags, schedule, timezone, description, source, "
                "paused, updated_at, grace, expected_duration, timeout, created_at) VALUES "
                "(:name, :owner, :tags, :schedule, :timezone, :description, :source, 0, :at, "
                ":grace, :expected_duration, :timeout, :at) ON CONFLICT (name) DO UPDATE SET "
                "owner = excluded.owner, tags = excluded.tags, schedule = excluded.schedule, "
                "timezone = excluded.timezone, description = excluded.description, "
                "source = excluded.source, updated_at = excluded.updated_at, "
                "grace = excluded.grace, expected_duration = excluded.expected_duration, "
                "timeout = excluded.timeout",
                rows,
            )

    def set_paused(self, job: str, paused: bool) -> None:
        """Pause or unpause a job the store knows."""
        with self.db.transaction():
            cur = self.db.execute(
                "UPDATE jobs SET paused = :p WHERE name = :name", {"p": int(paused), "name": job}
            )
            if cur.rowcount == 0:
                raise NotFoundError(f"job {job!r} is not known to the store")

    def get_job(self, name: str) -> JobRecord | None:
        """The stored job, or None."""
        rows = self.db.rows("SELECT * FROM jobs WHERE name = :name", {"name": name})
        return JobRecord.from_row(rows[0]) if rows else None

    def list_jobs(self) -> list[JobRecord]:
        """Every stored job, by name."""
        return [JobRecord.from_row(r) for r in self.db.rows("SELECT * FROM jobs ORDER BY name")]

    # -- runs ---------------------------------------------------------------------

    def create_run(
        self,
        job: Job,
        logical_time: datetime,
        trigger: Trigger,
        at: datetime,
        params: dict[str, str] | None = None,
        *,
        claim: bool = False,
    ) -> RunRecord | None:
        """Create a queued run with pending task rows; None if (job, logical time) exists.

        With ``claim`` the run is created already claimed by this process, so no
        scheduler can pick it up before this process starts it.
        """
        values = {
            "job": job.name,
            "lt": to_epoch(logical_time),
            "trigger": trigger.value,
            "params": _json(params or {}),
            "at": to_epoch(at),
            "sup": supervisor.current() if claim else None,
        }
        with self._recording():
            run_id = self.db.scalar(
                "INSERT INTO runs (job, logical_time, trigger, state, params, queued_at, "
                "supervisor) VALUES (:job, :lt, :trigger, 'queued', :params, :at, :sup) "
                "ON CONFLICT (job, logical_time) DO NOTHING RETURNING id",
                values,
            )
            if run_id is None:
                return None
            self.db.executemany(
                "INSERT INTO task_runs (run_id, task, state, attempts, updated_at) "
                "VALUES (:run_id, :task, 'pending', 0, :at)",
                [{"run_id": run_id, "task": t, "at": values["at"]} for t in job.tasks],
            )
            self._insert_event(
                RunQueued(
                    at=at,
                    job=job.name,
                    run_id=int(run_id),
                    logical_time=logical_time.isoformat(),
                    trigger=trigger.value,
                )
            )
        return self.get_run(int(run_id))

    def get_run(self, run_id: int) -> RunRecord:
        """The run with this id; NotFoundError if there is none."""
        rows = self.db.rows("SELECT * FROM runs WHERE id = :id", {"id": run_id})
        if not rows:
            raise NotFoundError(f"no run with id {run_id}")
        return RunRecord.from_row(rows[0])

    def find_run(self, job: str, logical_time: datetime) -> RunRecord | None:
        """The run of ``job`` for ``logical_time``, or None."""
        rows = self.db.rows(
            "SELECT * FROM runs WHERE job = :job AND logical_time = :lt",
            {"job": job, "lt": to_epoch(logical_time)},
        )
        return RunRecord.from_row(rows[0]) if rows else None

    def list_runs(
        self,
        *,
        job: str | None = None,
        state: RunState | None = None,
        limit: int = 50,
        before_id: int | None = None,
    ) -> list[RunRecord]:
        """Runs, newest first, optionally filtered."""
        clauses = []
        if job is not None:
            clauses.append("job = :job")
        if state is not None:
            clauses.append("state = :state")
        if before_id is not None:
            clauses.append("id < :before")
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self.db.rows(
            f"SELECT * FROM runs {where} ORDER BY id DESC LIMIT :limit",
            {
                "job": job,
                "state": None if state is None else state.value,
                "limit": limit,
                "before": before_id,
            },
        )
        return [RunRecord.from_row(r) for r in rows]

    def mark_run_started(
        self, run: RunRecord, at: datetime, *, trace_id: str | None = None
    ) -> bool:
        """Set a queued run running under this process (keeping its first start time);
        False, with nothing written, when the run is not queued or another process has
        claimed it (``create_run(claim=True)``, ``scheduling.claim_run``)."""
        at_epoch = to_epoch(at)
        lag = (at - run.logical_time).total_seconds() if run.trigger is Trigger.SCHEDULE else None
        with self._recording():
            claimed = self.db.execute(
                "UPDATE runs SET state = 'running', started_at = COALESCE(started_at, :at), "
                "finished_at = NULL, reason = NULL, supervisor = :sup, "
                "trace_id = COALESCE(:trace, trace_id) WHERE id = :id AND state = 'queued' "
                "AND (supervisor IS NULL OR supervisor = :sup)",
                {"at": at_epoch, "sup": supervisor.current(), "trace": trace_id, "id": run.id},
            ).rowcount
            if not claimed:
                logger.info("run %s of %s was not queued: not started", run.id, run.job)
                return False
            self._insert_event(
                RunStarted(
                    at=at,
                    job=run.job,
                    run_id=run.id,
                    logical_time=run.logical_time.isoformat(),
                    trigger=run.trigger.value,
                    lag_seconds=lag,
                )
            )
        return True

    def set_trace_id(self, run_id: int, trace_id: str) -> None:
        """Record the trace a run's spans belong to."""
        with self.transaction():
            self.db.execute(
                "UPDATE runs SET trace_id = :trace WHERE id = :id",
                {"trace": trace_id, "id": run_id},
            )

    def mark_run_finished(
        self,
        run: RunRecord,
        state: RunState,
        at: datetime,
        *,
        reason: str | None = None,
        failed_tasks: Sequence[str] = (),
    ) -> bool:
        """Record a queued or running run's end and its event; False, with nothing written,
        when it had already finished. The duration runs from the stored start time."""
        return self._finish_run(
            run.id, run.job, state, at, reason=reason, failed_tasks=failed_tasks
        )

    def _finish_run(
        self,
        run_id: int,
        job: str,
        state: RunState,
        at: datetime,
        *,
        reason: str | None,
        failed_tasks: Sequence[str],
        supervised_by: str | None = None,
    ) -> bool:
        cls = _RUN_END_EVENTS.get(state)
        if cls is None:
            raise ValueError(f"a run cannot finish as {state.value!r}")
        at_epoch = to_epoch(at)
        only_if = " AND supervisor = :sup" if supervised_by is not None else ""
        with self._recording():
            rows = self.db.rows(
                "UPDATE runs SET state = :state, finished_at = :at, reason = :reason "
                f"WHERE id = :id AND state IN ('queued', 'running'){only_if} RETURNING started_at",
                {
                    "state": state.value,
                    "at": at_epoch,
                    "reason": reason,
                    "id": run_id,
                    "sup": supervised_by,
                },
            )
            if not rows:
                logger.info("run %s of %s had already finished", run_id, job)
                return False
            started = rows[0]["started_at"]
            extra: dict[str, Any] = {
                "duration_seconds": 0.0 if started is None else max(0.0, at_epoch - started)
            }
            if cls is not RunSucceeded:
                extra["reason"] = reason
            if cls is RunFailed:
                extra["failed_tasks"] = list(failed_tasks)
            self._insert_event(cls(at=at, job=job, run_id=run_id, **extra))
        return True

    def prepare_rerun(self, run: RunRecord, tasks: Iterable[str], at: datetime) -> None:
        """Queue an existing run again with ``tasks`` set back to pending.

        A finished run (or one whose supervisor on this host died) goes back to queued,
        with a RunQueued event. A run that another live process supervises is refused with
        StoreError, so a rerun never runs beside it.
        """
        at_epoch = to_epoch(at)
        with self._recording():
            rows = self.db.rows(
                "SELECT state, logical_time, trigger, supervisor FROM runs WHERE id = :id",
                {"id": run.id},
            )
            if not rows:
                raise NotFoundError(f"no run with id {run.id}")
            row = rows[0]
            state, owner = RunState(row["state"]), row["supervisor"]
            if (
                state is RunState.RUNNING
                and owner is not None
                and owner != supervisor.current()
                and supervisor.is_alive(owner)
            ):
                raise StoreError(
                    f"run {run.id} of {run.job} is running under {owner}: "
                    "cancel it or wait for it to finish"
                )
            self.db.executemany(
                "UPDATE task_runs SET state = 'pending', updated_at = :at "
                "WHERE run_id = :run_id AND task = :task",
                [{"run_id": run.id, "task": t, "at": at_epoch} for t in tasks],
            )
            if state is RunState.QUEUED:
                return
            self.db.execute(
                "UPDATE runs SET state = 'queued', finished_at = NULL, reason = NULL, "
                "supervisor = NULL WHERE id = :id",
                {"id": run.id},
            )
            self._insert_event(
                RunQueued(
                    at=at,
                    job=run.job,
                    run_id=run.id,
                    logical_time=from_epoch(float(row["logical_time"])).isoformat(),
                    trigger=row["trigger"],
                )
            )

    def add_task_rows(self, run: RunRecord, tasks: Iterable[str], at: datetime) -> None:
        """Add pending rows for tasks a changed definition added since the run was created."""
        at_epoch = to_epoch(at)
        with self.db.transaction():
            self.db.executemany(
                "INSERT INTO task_runs (run_id, task, state, attempts, updated_at) "
                "VALUES (:run_id, :task, 'pending', 0, :at) ON CONFLICT DO NOTHING",
                [{"run_id": run.id, "task": t, "at": at_epoch} for t in tasks],
            )

    # -- tasks and attempts -------------------------------------------------------

    def task_runs(self, run_id: int) -> dict[str, TaskRunRecord]:
        """The task rows of a run, by task name."""
        rows = self.db.rows(
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
        with self._recording():
            updated = self.db.execute(
                "UPDATE task_runs SET state = :state, updated_at = :at "
                "WHERE run_id = :run_id AND task = :task",
                {"state": state.value, "at": at_epoch, "run_id": run.id, "task": task},
            ).rowcount
            if not updated:
                raise NotFoundError(f"run {run.id} of {run.job} has no task {task!r}")
            if state is TaskState.SKIPPED:
                self._insert_event(
                    TaskSkipped(at=at, job=run.job, run_id=run.id, task=task, reason=reason)
                )
            elif state is TaskState.UPSTREAM_FAILED:
                self._insert_event(TaskUpstreamFailed(at=at, job=run.job, run_id=run.id, task=task))

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
        """
        at_epoch = to_epoch(at)
        with self._recording():
            if pool is not None and pool_size is not None:
                busy = self.db.scalar(
                    "SELECT COUNT(*) FROM attempts WHERE pool = :pool AND state = 'running'",
                    {"pool": pool},
                )
                if busy >= pool_size:
                    return None
            number = self.db.scalar(
                "UPDATE task_runs SET state = 'running', attempts = attempts + 1, "
                "updated_at = :at WHERE run_id = :run_id AND task = :task RETURNING attempts",
                {"at": at_epoch, "run_id": run.id, "task": task},
            )
            if number is None:
                raise NotFoundError(f"run {run.id} of {run.job} has no task {task!r}")
            out, err = _log_paths(log_dir, run, task, number)
            attempt_id = self.db.scalar(
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
                    "sup": supervisor.current(),
                    "out": out,
                    "err": err,
                },
            )
            self._insert_event(
                AttemptStarted(
                    at=at, job=run.job, run_id=run.id, task=task, attempt=number, pool=pool
                )
            )
        return self.get_attempt(int(attempt_id))

    def set_attempt_process(
        self, attempt: AttemptRecord, *, pid: int | None, span_id: str | None = None
    ) -> None:
        """Record the process running an attempt (and its span), for recovery and traces."""
        with self.db.transaction():
            self.db.execute(
                "UPDATE attempts SET pid = :pid, span_id = COALESCE(:span, span_id) WHERE id = :id",
                {"pid": pid, "span": span_id, "id": attempt.id},
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
    ) -> bool:
        """Record a running attempt's outcome, its task's state and the attempt event.

        ``state`` is success, failed, timed_out, cancelled or skipped; ``will_retry`` (for
        failed and timed_out) leaves the task ``retrying``. Returns False, with nothing
        written, when the attempt had already finished (e.g. recovered as orphaned).
        """
        cls = _ATTEMPT_END_EVENTS.get(state)
        if cls is None:
            raise ValueError(f"an attempt cannot finish as {state.value!r}")
        if will_retry and state not in _RETRYABLE:
            raise ValueError(f"an attempt that ended {state.value!r} is not retried")
        at_epoch = to_epoch(at)
        with self._recording():
            started = self.db.scalar(
                "UPDATE attempts SET state = :state, finished_at = :at, exit_code = :code, "
                "signal = :sig, error = :error, reason = :reason, result = :result "
                "WHERE id = :id AND state = 'running' RETURNING started_at",
                {
                    "state": state.value,
                    "at": at_epoch,
                    "code": exit_code,
                    "sig": signal,
                    "error": error,
                    "reason": reason,
                    "result": None if result is None else _json(result),
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
            self.db.execute(
                "UPDATE task_runs SET state = :state, updated_at = :at "
                "WHERE run_id = :run_id AND task = :task",
                {
                    "state": task_state.value,
                    "at": at_epoch,
                    "run_id": attempt.run_id,
                    "task": attempt.task,
                },
            )
            common: dict[str, Any] = {
                "at": at,
                "job": attempt.job,
                "run_id": attempt.run_id,
                "task": attempt.task,
                "attempt": attempt.number,
            }
            if state is TaskState.SKIPPED:
                self._insert_event(TaskSkipped(**common, reason=reason))
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
            self._insert_event(cls(**common, **ended))
        return True

    def get_attempt(self, attempt_id: int) -> AttemptRecord:
        """The attempt with this id."""
        rows = self.db.rows("SELECT * FROM attempts WHERE id = :id", {"id": attempt_id})
        if not rows:
            raise NotFoundError(f"no attempt with id {attempt_id}")
        return AttemptRecord.from_row(rows[0])

    def attempts(self, run_id: int, task: str | None = None) -> list[AttemptRecord]:
        """The attempts of a run (or of one of its tasks), in start order."""
        extra = " AND task = :task" if task is not None else ""
        rows = self.db.rows(
            f"SELECT * FROM attempts WHERE run_id = :id{extra} ORDER BY id",
            {"id": run_id, "task": task},
        )
        return [AttemptRecord.from_row(r) for r in rows]

    def results(self, run_id: int) -> dict[str, Any]:
        """The return values of the successful attempts of a run's Python tasks."""
        rows = self.db.rows(
            "SELECT task, result FROM attempts WHERE run_id = :id AND state = 'success' "
            "AND result IS NOT NULL ORDER BY id",
            {"id": run_id},
        )
        return {r["task"]: json.loads(r["result"]) for r in rows}

    # -- recovery -----------------------------------------------------------------

    def recover_orphans(self, at: datetime | None = None) -> list[AttemptRecord]:
        """Fail running attempts and runs whose supervising process on this host is gone.

        A task process that outlived its supervisor is killed first, so a retry never
        runs beside it. Returns the attempts this call marked orphaned.
        """
        from runner.clock import utcnow

        at = at or utcnow()
        rows = self.db.rows(
            "SELECT * FROM attempts WHERE state = 'running' AND supervisor IS NOT NULL"
        )
        orphans = []
        for row in rows:
            if supervisor.is_alive(row["supervisor"]):
                continue
            attempt = AttemptRecord.from_row(row)
            kill_leftover(attempt)
            if self.finish_attempt(
                attempt,
                TaskState.FAILED,
                at,
                reason=ORPHANED,
                error="the process supervising this attempt died; its outcome is unknown",
            ):
                orphans.append(attempt)
                logger.warning(
                    "attempt %s of %s/%s marked failed: orphaned",
                    attempt.number, attempt.job, attempt.task,
                    extra={"job": attempt.job, "run_id": attempt.run_id},
                )  # fmt: skip
        runs = self.db.rows("SELECT * FROM runs WHERE state = 'running' AND supervisor IS NOT NULL")
        for row in runs:
            if supervisor.is_alive(row["supervisor"]):
                continue
            run_id = int(row["id"])
            failed = [
                t.task
                for t in self.task_runs(run_id).values()
                if t.state.failed or t.state is TaskState.RETRYING
            ]
            self._finish_run(
                run_id,
                row["job"],
                RunState.FAILED,
                at,
                reason=ORPHANED,
                failed_tasks=failed,
                supervised_by=row["supervisor"],
            )
        return orphans

    # -- maintenance --------------------------------------------------------------

    def heartbeat(self, name: str, at: datetime, info: dict[str, Any] | None = None) -> None:
        """Record that the named long-running process is alive."""
        with self.db.transaction():
            self.db.execute(
                "INSERT INTO heartbeats (name, at, info) VALUES (:name, :at, :info) "
                "ON CONFLICT (name) DO UPDATE SET at = excluded.at, info = excluded.info",
                {"name": name, "at": to_epoch(at), "info": _json(info or {})},
            )

    def prune(self, before: datetime) -> dict[str, int]:
        """Delete finished runs queued before ``before``, with their task rows, attempts,
        events and log files, and job events older than ``before``; return how many went
        (keys ``runs``, ``attempts``, ``task_runs``, ``events``, ``log_files``)."""
        cutoff = {"cutoff": to_epoch(before)}
        old = f"SELECT id FROM runs WHERE queued_at < :cutoff AND state IN {_FINISHED_RUN}"
        with self.db.transaction():
            paths = self.db.rows(
                f"SELECT stdout_path, stderr_path FROM attempts WHERE run_id IN ({old})", cutoff
            )
            counts = {
                table: self.db.execute(
                    f"DELETE FROM {table} WHERE run_id IN ({old})", cutoff
                ).rowcount
                for table in ("attempts", "task_runs")
            }
            counts["events"] = self.db.execute(
                f"DELETE FROM events WHERE run_id IN ({old}) OR (run_id IS NULL AND at < :cutoff)",
                cutoff,
            ).rowcount
            counts["runs"] = self.db.execute(
                f"DELETE FROM runs WHERE queued_at < :cutoff AND state IN {_FINISHED_RUN}",
                cutoff,
            ).rowcount
        counts["log_files"] = _remove_logs(
            path for row in paths for path in (row["stdout_path"], row["stderr_path"]) if path
        )
        return counts


def _log_paths(
    log_dir: Path | None, run: RunRecord, task: str, number: int
) -> tuple[str | None, str | None]:
    if log_dir is None:
        return None, None
    base = log_dir / run.job / str(run.id)
    return str(base / f"{task}.{number}.out"), str(base / f"{task}.{number}.err")


def _remove_logs(paths: Iterable[str]) -> int:
    """Delete log files and the run folders they leave empty; return how many files went."""
    removed = 0
    folders = set()
    for name in paths:
        path = Path(name)
        folders.add(path.parent)
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as exc:
            logger.warning("cannot delete log file %s: %s", path, exc)
            continue
        removed += 1
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            logger.debug("log folder %s kept: not empty or gone", folder)
    return removed
