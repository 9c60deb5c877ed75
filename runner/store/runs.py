"""The runs table and the task rows of each run: creating, starting, ending, rerunning."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from runner import processes
from runner.errors import NotFoundError, StoreError
from runner.events import (
    RunCancelled,
    RunFailed,
    RunQueued,
    RunStarted,
    RunSucceeded,
)
from runner.model import Job, RunState, Trigger
from runner.store.eventlog import Part
from runner.store.records import (
    RunRecord,
    from_epoch,
    to_epoch,
)
from runner.store.spine_sql import INSERT_TASK_RUN, to_json, upstream_columns

logger = logging.getLogger(__name__)


_RUN_END_EVENTS: dict[RunState, type[RunSucceeded | RunFailed | RunCancelled]] = {
    RunState.SUCCESS: RunSucceeded,
    RunState.FAILED: RunFailed,
    RunState.CANCELLED: RunCancelled,
}
FINISHED_RUN = "('success', 'failed', 'cancelled')"


class RunTable(Part):
    """Runs: one per job and logical time."""

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
            "params": to_json(params or {}),
            "at": to_epoch(at),
            "sup": processes.current() if claim else None,
        }
        with self._log.recording():
            run_id = self._db.scalar(
                "INSERT INTO runs (job, logical_time, trigger, state, params, queued_at, "
                "supervisor) VALUES (:job, :lt, :trigger, 'queued', :params, :at, :sup) "
                "ON CONFLICT (job, logical_time) DO NOTHING RETURNING id",
                values,
            )
            if run_id is None:
                return None
            self._db.executemany(
                INSERT_TASK_RUN,
                [
                    {"run_id": run_id, "task": t, "at": values["at"], "upstream": upstream}
                    for t, upstream in upstream_columns(_after(job, job.tasks)).items()
                ],
            )
            self._log.insert_event(
                RunQueued(
                    at=at,
                    job=job.name,
                    run_id=int(run_id),
                    logical_time=logical_time,
                    trigger=trigger,
                )
            )
        return self.get_run(int(run_id))

    def get_run(self, run_id: int) -> RunRecord:
        """The run with this id; NotFoundError if there is none."""
        rows = self._db.rows("SELECT * FROM runs WHERE id = :id", {"id": run_id})
        if not rows:
            raise NotFoundError(f"no run with id {run_id}")
        return RunRecord.from_row(rows[0])

    def find_run(self, job: str, logical_time: datetime) -> RunRecord | None:
        """The run of ``job`` for ``logical_time``, or None."""
        rows = self._db.rows(
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
        rows = self._db.rows(
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
        with self._log.recording():
            claimed = self._db.execute(
                "UPDATE runs SET state = 'running', started_at = COALESCE(started_at, :at), "
                "finished_at = NULL, reason = NULL, supervisor = :sup, "
                "trace_id = COALESCE(:trace, trace_id) WHERE id = :id AND state = 'queued' "
                "AND (supervisor IS NULL OR supervisor = :sup)",
                {"at": at_epoch, "sup": processes.current(), "trace": trace_id, "id": run.id},
            ).rowcount
            if not claimed:
                logger.info("run %s of %s was not queued: not started", run.id, run.job)
                return False
            self._log.insert_event(
                RunStarted(
                    at=at,
                    job=run.job,
                    run_id=run.id,
                    logical_time=run.logical_time,
                    trigger=run.trigger,
                    lag_seconds=lag,
                )
            )
        return True

    def set_trace_id(self, run_id: int, trace_id: str) -> None:
        """Record the trace a run's spans belong to."""
        with self._log.transaction():
            self._db.execute(
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
        supervised_by: str | None = None,
    ) -> bool:
        """Record a queued or running run's end and its event; False, with nothing written,
        when it had already finished (or, with ``supervised_by``, when another process
        supervises it now). The duration runs from the stored start time."""
        return self.finish_run(
            run.id,
            run.job,
            state,
            at,
            reason=reason,
            failed_tasks=failed_tasks,
            supervised_by=supervised_by,
        )

    def finish_run(
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
        """End a run still queued or running (and, with ``supervised_by``, still that
        process's) and append its end event; False when it had ended already."""
        cls = _RUN_END_EVENTS.get(state)
        if cls is None:
            raise ValueError(f"a run cannot finish as {state.value!r}")
        at_epoch = to_epoch(at)
        only_if = " AND supervisor = :sup" if supervised_by is not None else ""
        with self._log.recording():
            rows = self._db.rows(
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
            self._log.insert_event(cls(at=at, job=job, run_id=run_id, **extra))
        return True

    def prepare_rerun(self, run: RunRecord, tasks: Iterable[str], at: datetime) -> None:
        """Queue an existing run again with ``tasks`` set back to pending.

        A finished run (or one whose supervisor on this host died) goes back to queued,
        with a RunQueued event. A run that another live process supervises is refused with
        StoreError, so a rerun never runs beside it.
        """
        at_epoch = to_epoch(at)
        with self._log.recording():
            rows = self._db.rows(
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
                and owner != processes.current()
                and processes.is_alive(owner)
            ):
                raise StoreError(
                    f"run {run.id} of {run.job} is running under {owner}: "
                    "cancel it or wait for it to finish"
                )
            self._log.flush_task_states()
            self._db.executemany(
                "UPDATE task_runs SET state = 'pending', updated_at = :at "
                "WHERE run_id = :run_id AND task = :task",
                [{"run_id": run.id, "task": t, "at": at_epoch} for t in tasks],
            )
            if state is RunState.QUEUED:
                return
            self._db.execute(
                "UPDATE runs SET state = 'queued', finished_at = NULL, reason = NULL, "
                "supervisor = NULL WHERE id = :id",
                {"id": run.id},
            )
            self._log.insert_event(
                RunQueued(
                    at=at,
                    job=run.job,
                    run_id=run.id,
                    logical_time=from_epoch(float(row["logical_time"])),
                    trigger=Trigger(row["trigger"]),
                )
            )

    def add_task_rows(self, run: RunRecord, job: Job, tasks: Iterable[str], at: datetime) -> None:
        """Add pending rows for tasks a changed definition (``job``) added since the run
        was created, with their upstream tasks in ``job``."""
        at_epoch = to_epoch(at)
        with self._log.transaction():
            self._db.executemany(
                f"{INSERT_TASK_RUN} ON CONFLICT DO NOTHING",
                [
                    {"run_id": run.id, "task": t, "at": at_epoch, "upstream": upstream}
                    for t, upstream in upstream_columns(_after(job, tasks)).items()
                ],
            )

    def add_instance_rows(
        self, run: RunRecord, instances: Sequence[str], upstream: Sequence[str], at: datetime
    ) -> None:
        """Add pending rows for the instances of a mapped task (``process[0]`` …), each
        with the mapped task's upstream tasks; rows that exist are kept."""
        at_epoch = to_epoch(at)
        column = to_json(list(upstream))
        with self._log.transaction():
            self._db.executemany(
                f"{INSERT_TASK_RUN} ON CONFLICT DO NOTHING",
                [
                    {"run_id": run.id, "task": name, "at": at_epoch, "upstream": column}
                    for name in instances
                ],
            )


def _after(job: Job, tasks: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """Each of ``tasks`` and its upstream tasks in ``job``: the run's graph."""
    return {task: tuple(job.tasks[task].after) for task in tasks}
