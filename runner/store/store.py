"""The store: runs, task runs, attempts and the append-only event log.

``Store`` is one class for callers, composed of one part per concern, each in its own
module and all sharing one connection and event log (eventlog.py): jobs, runs, attempts,
orphan recovery (recovery.py) and housekeeping (maintenance.py). Its methods are the
parts' own, named on ``Store`` one by one (``_by``). Writes made inside
``transaction()`` are committed together (the engine groups the changes of one loop
turn).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from types import TracebackType
from typing import Any, Concatenate, ParamSpec, Self, TypeVar

from runner.errors import StoreError
from runner.store.attempts import AttemptTable
from runner.store.database import Database, parse_url
from runner.store.eventlog import EventLog
from runner.store.jobs import JobTable
from runner.store.maintenance import Maintenance
from runner.store.recovery import ORPHANED, Recovery
from runner.store.runs import RunTable

logger = logging.getLogger(__name__)


__all__ = ["ORPHANED", "Store"]

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _by(
    part: str, method: Callable[Concatenate[Any, _P], _R]
) -> Callable[Concatenate[Store, _P], _R]:
    """``Store``'s method that is ``method`` of its part ``part``, with its signature."""

    @functools.wraps(method)
    def call(self: Store, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        return method(getattr(self, part), *args, **kwargs)

    return call


class Store:
    """Read and write runwatch's state; open it with ``Store.open``."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._log = EventLog(db)
        self._jobs = JobTable(self._log)
        self._runs = RunTable(self._log)
        self._attempts = AttemptTable(self._log)
        self._recovery = Recovery(self._log, self._runs, self._attempts)
        self._maintenance = Maintenance(self._log)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # the connection, its transactions and the event log (eventlog.py)
    close = _by("_log", EventLog.close)
    transaction = _by("_log", EventLog.transaction)
    turn = _by("_log", EventLog.turn)
    event_transaction = _by("_log", EventLog.recording)
    spine_connection = _by("_log", EventLog.spine_connection)
    append = _by("_log", EventLog.append)
    events_after = _by("_log", EventLog.events_after)
    last_event_id = _by("_log", EventLog.last_event_id)
    # jobs (jobs.py)
    sync_jobs = _by("_jobs", JobTable.sync_jobs)
    set_paused = _by("_jobs", JobTable.set_paused)
    get_job = _by("_jobs", JobTable.get_job)
    list_jobs = _by("_jobs", JobTable.list_jobs)
    # runs (runs.py)
    create_run = _by("_runs", RunTable.create_run)
    get_run = _by("_runs", RunTable.get_run)
    find_run = _by("_runs", RunTable.find_run)
    list_runs = _by("_runs", RunTable.list_runs)
    mark_run_started = _by("_runs", RunTable.mark_run_started)
    set_trace_id = _by("_runs", RunTable.set_trace_id)
    mark_run_finished = _by("_runs", RunTable.mark_run_finished)
    prepare_rerun = _by("_runs", RunTable.prepare_rerun)
    add_task_rows = _by("_runs", RunTable.add_task_rows)
    add_instance_rows = _by("_runs", RunTable.add_instance_rows)
    # task rows and attempts (attempts.py)
    task_runs = _by("_attempts", AttemptTable.task_runs)
    set_task_state = _by("_attempts", AttemptTable.set_task_state)
    start_attempt = _by("_attempts", AttemptTable.start_attempt)
    set_attempt_process = _by("_attempts", AttemptTable.set_attempt_process)
    finish_attempt = _by("_attempts", AttemptTable.finish_attempt)
    get_attempt = _by("_attempts", AttemptTable.get_attempt)
    attempts = _by("_attempts", AttemptTable.attempts)
    attempt_totals = _by("_attempts", AttemptTable.attempt_totals)
    results = _by("_attempts", AttemptTable.results)
    record_poke = _by("_attempts", AttemptTable.record_poke)
    first_poke = _by("_attempts", AttemptTable.first_poke)
    job_succeeded_between = _by("_attempts", AttemptTable.job_succeeded_between)
    # orphan recovery (recovery.py)
    recover_orphans = _by("_recovery", Recovery.recover_orphans)
    settle_leftover = _by("_recovery", Recovery.settle_leftover)
    end_orphaned_run = _by("_recovery", Recovery.end_orphaned_run)
    # housekeeping (maintenance.py)
    heartbeat = _by("_maintenance", Maintenance.heartbeat)
    prune = _by("_maintenance", Maintenance.prune)

    @classmethod
    def open(cls, url: str, *, migrate: bool = True, recover: bool = True) -> Store:
        """Open the store at ``url``: create a fresh schema, check an existing one is current,
        and (``recover``) mark attempts whose supervisor died as orphaned."""
        from runner.store.revisions import HEAD, REVISIONS

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
