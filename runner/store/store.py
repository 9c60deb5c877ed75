"""The store: runs, task runs, attempts and the append-only event log.

Every state change is one transaction that updates the row and appends its event, so
the event log and the tables never disagree. Writes made inside ``transaction()`` are
committed together (the engine groups the changes of one loop turn).
"""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
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

logger = logging.getLogger(__name__)

ORPHANED = "orphaned"
"""Reason recorded on attempts and runs whose supervising process died."""

_ATTEMPT_END_EVENTS: dict[TaskState, type[AttemptSucceeded | AttemptFailed | AttemptTimedOut]] = {
    TaskState.SUCCESS: AttemptSucceeded,
    TaskState.FAILED: AttemptFailed,
    TaskState.TIMED_OUT: AttemptTimedOut,
}
_RUN_END_EVENTS: dict[RunState, type[RunSucceeded | RunFailed | RunCancelled]] = {
    RunState.SUCCESS: RunSucceeded,
    RunState.FAILED: RunFailed,
    RunState.CANCELLED: RunCancelled,
}


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
        from runner.store.migrate import HEAD  # noqa: PLC0415 - a constant, no Alembic

        parsed = parse_url(url)
        db = Database(parsed)
        revision = (
            db.scalar("SELECT version_num FROM alembic_version")
            if db.table_exists("alembic_version")
            else None
        )
        if revision != HEAD:
            if not migrate:
                db.close()
                raise StoreError(
                    f"database {parsed.redacted} is at schema {revision or 'none'}, "
                    f"this runwatch needs {HEAD}: run `runwatch db upgrade`"
                )
            cls._upgrade(db, revision)
        store = cls(db)
        if recover:
            store.recover_orphans()
        return store

    @staticmethod
    def _upgrade(db: Database, revision: str | None) -> None:
        from runner.store import migrate  # noqa: PLC0415 - Alembic only when needed

        known = {f"{n:04d}" for n in range(1, int(migrate.HEAD) + 1)}
        if revision is not None and revision not in known:
            raise StoreError(
                f"database {db.url.redacted} is at schema {revision}, newer than this "
                f"runwatch ({migrate.HEAD}): upgrade runwatch"
            )
        logger.info("migrating %s from %s to %s", db.url.redacted, revision, migrate.HEAD)
        migrate.upgrade(db.url)

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes into one commit; nested uses join the outer transaction."""
        with self.db.transaction():
            yield

    # -- events -------------------------------------------------------------------

    def append(self, event: Event) -> int:
        """Append an event to the log and return its id."""
        with self.db.transaction():
            self.db.serialize_event_writes()
            row = self.db.execute(
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
            ).fetchone()
        assert row is not None
        return int(row[0])

    def events_after(
        self, after_id: int, *, limit: int = 1000, job: str | None = None
    ) -> list[Event]:
        """Events with id greater than ``after_id``, oldest first."""
        where = "id > :after" + (" AND job = :job" if job else "")
        rows = self.db.rows(
            f"SELECT * FROM events WHERE {where} ORDER BY id LIMIT :limit",
            {"after": after_id, "limit": limit, "job": job},
        )
        return [
            event_from_row(
                id=int(r["id"]),
                type=r["type"],
                at=from_epoch(r["at"]),  # type: ignore[arg-type]
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
                "at": to_epoch(at),
            }
            for j in jobs
        ]
        with self.db.transaction():
            self.db.executemany(
                "INSERT INTO jobs (name, owner, tags, schedule, timezone, description, source, "
                "paused, updated_at) VALUES (:name, :owner, :tags, :schedule, :timezone, "
                ":description, :source, 0, :at) ON CONFLICT (name) DO UPDATE SET "
                "owner = excluded.owner, tags = excluded.tags, schedule = excluded.schedule, "
                "timezone = excluded.timezone, description = excluded.description, "
                "source = excluded.source, updated_at = excluded.updated_at",
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
    ) -> RunRecord | None:
        """Create a queued run with pending task rows; None if (job, logical time) exists."""
        with self.db.transaction():
            row = self.db.execute(
                "INSERT INTO runs (job, logical_time, trigger, state, params, queued_at) "
                "VALUES (:job, :lt, :trigger, 'queued', :params, :at) "
                "ON CONFLICT (job, logical_time) DO NOTHING RETURNING id",
                {
                    "job": job.name,
                    "lt": to_epoch(logical_time),
                    "trigger": trigger.value,
                    "params": _json(params or {}),
                    "at": to_epoch(at),
                },
            ).fetchone()
            if row is None:
                return None
            run_id = int(row[0])
            self.db.executemany(
                "INSERT INTO task_runs (run_id, task, state, attempts, updated_at) "
                "VALUES (:run_id, :task, 'pending', 0, :at)",
                [{"run_id": run_id, "task": t, "at": to_epoch(at)} for t in job.tasks],
            )
            self.append(
                RunQueued(
                    at=at,
                    job=job.name,
                    run_id=run_id,
                    logical_time=logical_time.isoformat(),
                    trigger=trigger.value,
                )
            )
        return self.get_run(run_id)

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
        if job:
            clauses.append("job = :job")
        if state:
            clauses.append("state = :state")
        if before_id:
            clauses.append("id < :before")
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = self.db.rows(
            f"SELECT * FROM runs {where} ORDER BY id DESC LIMIT :limit",
            {"job": job, "state": state.value if state else None, "limit": limit,
             "before": before_id},
        )
        return [RunRecord.from_row(r) for r in rows]

    def mark_run_started(
        self, run: RunRecord, at: datetime, *, trace_id: str | None = None
    ) -> None:
        """Set a queued run running under this process, keeping its first start time."""
        lag = (at - run.logical_time).total_seconds() if run.trigger is Trigger.SCHEDULE else None
        with self.db.transaction():
            self.db.execute(
                "UPDATE runs SET state = 'running', started_at = COALESCE(started_at, :at), "
                "finished_at = NULL, reason = NULL, supervisor = :sup, "
                "trace_id = COALESCE(:trace, trace_id) WHERE id = :id",
                {"at": to_epoch(at), "sup": supervisor.current(), "trace": trace_id,
                 "id": run.id},
            )
            self.append(
                RunStarted(
                    at=at,
                    job=run.job,
                    run_id=run.id,
                    logical_time=run.logical_time.isoformat(),
                    trigger=run.trigger.value,
                    lag_seconds=lag,
                )
            )

    def mark_run_finished(
        self,
        run: RunRecord,
        state: RunState,
        at: datetime,
        *,
        reason: str | None = None,
        failed_tasks: Sequence[str] = (),
    ) -> None:
        """Record a run's end and its event."""
        started = run.started_at or at
        duration = max(0.0, (at - started).total_seconds())
        with self.db.transaction():
            self.db.execute(
                "UPDATE runs SET state = :state, finished_at = :at, reason = :reason "
                "WHERE id = :id",
                {"state": state.value, "at": to_epoch(at), "reason": reason, "id": run.id},
            )
            cls = _RUN_END_EVENTS[state]
            extra: dict[str, Any] = {"duration_seconds": duration}
            if cls is not RunSucceeded:
                extra["reason"] = reason
            if cls is RunFailed:
                extra["failed_tasks"] = list(failed_tasks)
            self.append(cls(at=at, job=run.job, run_id=run.id, **extra))

    def prepare_rerun(self, run: RunRecord, tasks: Iterable[str], at: datetime) -> None:
        """Queue an existing run again with ``tasks`` set back to pending."""
        with self.db.transaction():
            self.db.execute(
                "UPDATE runs SET state = 'queued', finished_at = NULL, reason = NULL "
                "WHERE id = :id",
                {"id": run.id},
            )
            self.db.executemany(
                "UPDATE task_runs SET state = 'pending', updated_at = :at "
                "WHERE run_id = :run_id AND task = :task",
                [{"run_id": run.id, "task": t, "at": to_epoch(at)} for t in tasks],
            )

    def add_task_rows(self, run: RunRecord, tasks: Iterable[str], at: datetime) -> None:
        """Add pending rows for tasks a changed definition added since the run was created."""
        with self.db.transaction():
            self.db.executemany(
                "INSERT INTO task_runs (run_id, task, state, attempts, updated_at) "
                "VALUES (:run_id, :task, 'pending', 0, :at) ON CONFLICT DO NOTHING",
                [{"run_id": run.id, "task": t, "at": to_epoch(at)} for t in tasks],
            )

    # -- tasks and attempts -------------------------------------------------------

    def task_runs(self, run_id: int) -> dict[str, TaskRunRecord]:
        """The task rows of a run, by task name."""
        rows = self.db.rows("SELECT * FROM task_runs WHERE run_id = :id", {"id": run_id})
        return {r["task"]: TaskRunRecord.from_row(r) for r in rows}

    def set_task_state(
        self, run: RunRecord, task: str, state: TaskState, at: datetime, *, reason: str | None = None
    ) -> None:
        """Set a task's state in a run; skipped and upstream_failed also append their event."""
        with self.db.transaction():
            self.db.execute(
                "UPDATE task_runs SET state = :state, updated_at = :at "
                "WHERE run_id = :run_id AND task = :task",
                {"state": state.value, "at": to_epoch(at), "run_id": run.id, "task": task},
            )
            if state is TaskState.SKIPPED:
                self.append(
                    TaskSkipped(at=at, job=run.job, run_id=run.id, task=task, reason=reason)
                )
            elif state is TaskState.UPSTREAM_FAILED:
                self.append(TaskUpstreamFailed(at=at, job=run.job, run_id=run.id, task=task))

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

        The pool check and the insert are one transaction, so processes sharing the
        store never exceed a pool's size between them.
        """
        with self.db.transaction():
            if pool is not None and pool_size is not None:
                if not self.db.is_sqlite:
                    self.db.execute("SELECT pg_advisory_xact_lock(:k)", {"k": zlib.crc32(pool.encode())})
                busy = self.db.scalar(
                    "SELECT COUNT(*) FROM attempts WHERE pool = :pool AND state = 'running'",
                    {"pool": pool},
                )
                if busy >= pool_size:
                    return None
            number = int(
                self.db.scalar(
                    "UPDATE task_runs SET state = 'running', attempts = attempts + 1, "
                    "updated_at = :at WHERE run_id = :run_id AND task = :task RETURNING attempts",
                    {"at": to_epoch(at), "run_id": run.id, "task": task},
                )
            )
            paths = _log_paths(log_dir, run, task, number)
            attempt_id = self.db.scalar(
                "INSERT INTO attempts (run_id, job, task, number, state, started_at, pool, "
                "supervisor, stdout_path, stderr_path) VALUES (:run_id, :job, :task, :number, "
                "'running', :at, :pool, :sup, :out, :err) RETURNING id",
                {
                    "run_id": run.id,
                    "job": run.job,
                    "task": task,
                    "number": number,
                    "at": to_epoch(at),
                    "pool": pool,
                    "sup": supervisor.current(),
                    "out": paths[0],
                    "err": paths[1],
                },
            )
            self.append(
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
                "UPDATE attempts SET pid = :pid, span_id = COALESCE(:span, span_id) "
                "WHERE id = :id",
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
    ) -> None:
        """Record an attempt's outcome, its task's state and the attempt event."""
        task_state = TaskState.RETRYING if will_retry else state
        duration = max(0.0, (at - attempt.started_at).total_seconds())
        with self.db.transaction():
            self.db.execute(
                "UPDATE attempts SET state = :state, finished_at = :at, exit_code = :code, "
                "signal = :sig, error = :error, reason = :reason, result = :result "
                "WHERE id = :id",
                {
                    "state": state.value,
                    "at": to_epoch(at),
                    "code": exit_code,
                    "sig": signal,
                    "error": error,
                    "reason": reason,
                    "result": None if result is None else _json(result),
                    "id": attempt.id,
                },
            )
            self.db.execute(
                "UPDATE task_runs SET state = :state, updated_at = :at "
                "WHERE run_id = :run_id AND task = :task",
                {"state": task_state.value, "at": to_epoch(at), "run_id": attempt.run_id,
                 "task": attempt.task},
            )
            common: dict[str, Any] = {
                "at": at,
                "job": attempt.job,
                "run_id": attempt.run_id,
                "task": attempt.task,
                "attempt": attempt.number,
                "duration_seconds": duration,
                "exit_code": exit_code,
                "signal": signal,
                "error": error,
                "reason": reason,
            }
            if state is TaskState.SKIPPED:
                self.append(TaskSkipped(at=at, job=attempt.job, run_id=attempt.run_id,
                                        task=attempt.task, attempt=attempt.number, reason=reason))
            elif state is TaskState.CANCELLED:
                self.append(AttemptCancelled(**common))
            elif state is TaskState.SUCCESS:
                self.append(AttemptSucceeded(**common))
            else:
                self.append(_ATTEMPT_END_EVENTS[state](**common, will_retry=will_retry))

    def get_attempt(self, attempt_id: int) -> AttemptRecord:
        """The attempt with this id."""
        rows = self.db.rows("SELECT * FROM attempts WHERE id = :id", {"id": attempt_id})
        if not rows:
            raise NotFoundError(f"no attempt with id {attempt_id}")
        return AttemptRecord.from_row(rows[0])

    def attempts(self, run_id: int, task: str | None = None) -> list[AttemptRecord]:
        """The attempts of a run (or of one of its tasks), in start order."""
        extra = " AND task = :task" if task else ""
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
        runs beside it. Returns the attempts marked orphaned.
        """
        from runner.clock import utcnow  # noqa: PLC0415 - tiny, but keeps the import graph flat

        at = at or utcnow()
        rows = self.db.rows(
            "SELECT * FROM attempts WHERE state = 'running' AND supervisor IS NOT NULL"
        )
        orphans = [
            AttemptRecord.from_row(r) for r in rows if not supervisor.is_alive(r["supervisor"])
        ]
        for attempt in orphans:
            _kill_leftover(attempt)
            self.finish_attempt(
                attempt,
                TaskState.FAILED,
                at,
                reason=ORPHANED,
                error="the process supervising this attempt died; its outcome is unknown",
            )
            logger.warning(
                "attempt %s of %s/%s marked failed: orphaned",
                attempt.number, attempt.job, attempt.task,
                extra={"job": attempt.job, "run_id": attempt.run_id},
            )
        runs = self.db.rows(
            "SELECT * FROM runs WHERE state = 'running' AND supervisor IS NOT NULL"
        )
        for row in runs:
            if supervisor.is_alive(row["supervisor"]):
                continue
            run = RunRecord.from_row(row)
            failed = [t.task for t in self.task_runs(run.id).values() if not t.state.finished
                      or t.state.failed]
            self.mark_run_finished(run, RunState.FAILED, at, reason=ORPHANED, failed_tasks=failed)
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
        """Delete finished runs queued before ``before``, with their attempts, events and
        log files; return how many of each went."""
        cutoff = {"cutoff": to_epoch(before)}
        old = "SELECT id FROM runs WHERE queued_at < :cutoff AND state IN " \
            "('success', 'failed', 'cancelled')"
        paths = self.db.rows(
            f"SELECT stdout_path, stderr_path FROM attempts WHERE run_id IN ({old})", cutoff
        )
        with self.db.transaction():
            counts = {
                "events": self.db.execute(
                    f"DELETE FROM events WHERE run_id IN ({old}) OR (run_id IS NULL AND at < :cutoff)",
                    cutoff,
                ).rowcount,
                "attempts": self.db.execute(
                    f"DELETE FROM attempts WHERE run_id IN ({old})", cutoff
                ).rowcount,
            }
            self.db.execute(f"DELETE FROM task_runs WHERE run_id IN ({old})", cutoff)
            counts["runs"] = self.db.execute(
                "DELETE FROM runs WHERE queued_at < :cutoff AND state IN "
                "('success', 'failed', 'cancelled')",
                cutoff,
            ).rowcount
        removed = 0
        for row in paths:
            for path in (row["stdout_path"], row["stderr_path"]):
                if path and Path(path).exists():
                    Path(path).unlink()
                    removed += 1
        counts["log_files"] = removed
        return counts


def _log_paths(log_dir: Path | None, run: RunRecord, task: str, number: int) -> tuple[str | None, str | None]:
    if log_dir is None:
        return None, None
    base = log_dir / run.job / str(run.id)
    return str(base / f"{task}.{number}.out"), str(base / f"{task}.{number}.err")


def _kill_leftover(attempt: AttemptRecord) -> None:
    """Kill the process group of an orphaned attempt if it still runs on this host."""
    import os  # noqa: PLC0415
    import signal  # noqa: PLC0415

    if attempt.pid is None or attempt.supervisor is None or not supervisor.is_local(
        attempt.supervisor
    ):
        return
    try:
        os.killpg(attempt.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return
    logger.warning("killed leftover process group %s of orphaned attempt", attempt.pid)
