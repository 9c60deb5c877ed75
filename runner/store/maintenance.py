"""Recovery after crashes, heartbeats and pruning: the store's housekeeping."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from runner import exitstatus, supervisor
from runner.model import RunState, TaskState
from runner.store import logfiles
from runner.store.attempts import AttemptTable
from runner.store.records import (
    AttemptRecord,
    to_epoch,
)
from runner.store.recovery import (
    ORPHANED,
    adopted_reason,
    adopted_state,
    ended,
    is_keeper,
    kill_leftover,
    leftover_alive,
)
from runner.store.runs import FINISHED_RUN, RunTable
from runner.store.spine_sql import to_json

logger = logging.getLogger(__name__)


class Maintenance(RunTable, AttemptTable):
    """Orphan recovery, heartbeats and retention."""

    def recover_orphans(self, at: datetime | None = None) -> list[AttemptRecord]:
        """Settle running attempts and runs whose supervising process on this host is gone.

        An attempt whose command still runs under its keeper is left running, and its run
        with it, until the command ends (a later call adopts it); any other process of the
        attempt is killed, and waited for, first, so a retry never runs beside it. Returns
        the attempts this call settled.
        """
        from runner.clock import utcnow

        at = at or utcnow()
        rows = self.db.rows(
            "SELECT * FROM attempts WHERE state = 'running' AND supervisor IS NOT NULL"
        )
        settled, still_running = [], set()
        for row in rows:
            if supervisor.is_alive(row["supervisor"]):
                continue
            attempt = AttemptRecord.from_row(row)
            done = self.settle_leftover(attempt, at, kill=False)
            if done is None:
                still_running.add(attempt.run_id)
            elif done:
                settled.append(attempt)
        runs = self.db.rows("SELECT * FROM runs WHERE state = 'running' AND supervisor IS NOT NULL")
        for row in runs:
            if int(row["id"]) in still_running or supervisor.is_alive(row["supervisor"]):
                continue
            self.end_orphaned_run(int(row["id"]), row["job"], row["supervisor"], at)
        return settled

    def settle_leftover(self, attempt: AttemptRecord, at: datetime, *, kill: bool) -> bool | None:
        """Record the end of a running attempt whose supervisor died (or, ``kill``, hung).

        While its command still runs under its keeper and its supervisor is dead (not
        ``kill``), nothing is done: None, try again later. Any other live process of the
        attempt is killed and waited for (None if it is not gone by the deadline). Then the
        attempt's status file, when its keeper wrote one, gives its real outcome (the
        attempt is *adopted*); without one it failed as ``orphaned``. True when this call
        recorded the end, False when someone else had.
        """
        if leftover_alive(attempt):
            if not kill and is_keeper(attempt):
                return None
            if not kill_leftover(attempt) and leftover_alive(attempt):
                return None
        path = exitstatus.status_path(attempt.stdout_path) if attempt.stdout_path else None
        status = None if path is None else exitstatus.read_status(path)
        if status is None:
            recorded = self.finish_attempt(
                attempt,
                TaskState.FAILED,
                at,
                reason=ORPHANED,
                error="the process supervising this attempt died; its outcome is unknown",
            )
            adopted = ""
        else:
            recorded = self.finish_attempt(
                attempt,
                adopted_state(status),
                max(status.ended_at, attempt.started_at),
                exit_code=status.exit_code,
                signal=status.signal,
                reason=adopted_reason(status),
            )
            adopted = f" (adopted: {ended(status)})"
        if path is not None:
            exitstatus.discard(path)
        if recorded:
            logger.warning(
                "attempt %s of %s/%s ended after its supervisor %s was gone%s",
                attempt.number, attempt.job, attempt.task, attempt.supervisor,
                adopted or ": failed, orphaned",
                extra={"job": attempt.job, "run_id": attempt.run_id},
            )  # fmt: skip
        return recorded

    def end_orphaned_run(self, run_id: int, job: str, owner: str, at: datetime) -> bool:
        """End a running run of a dead ``owner`` (conditionally: only if still its): as
        succeeded when every task had ended well (adopted), else failed ``orphaned``."""
        tasks = list(self.task_runs(run_id).values())
        failed = [t.task for t in tasks if t.state.failed or t.state is TaskState.RETRYING]
        done = all(t.state in (TaskState.SUCCESS, TaskState.SKIPPED) for t in tasks)
        return self._finish_run(
            run_id,
            job,
            RunState.SUCCESS if done and tasks else RunState.FAILED,
            at,
            reason=None if done and tasks else ORPHANED,
            failed_tasks=failed,
            supervised_by=owner,
        )

    # -- maintenance --------------------------------------------------------------

    def heartbeat(self, name: str, at: datetime, info: dict[str, Any] | None = None) -> None:
        """Record that the named long-running process is alive."""
        with self.db.transaction():
            self.db.execute(
                "INSERT INTO heartbeats (name, at, info) VALUES (:name, :at, :info) "
                "ON CONFLICT (name) DO UPDATE SET at = excluded.at, info = excluded.info",
                {"name": name, "at": to_epoch(at), "info": to_json(info or {})},
            )

    def prune(self, before: datetime, *, logs_dir: str | Path) -> dict[str, int]:
        """Delete finished runs queued before ``before``, with their task rows, attempts,
        events and log files, and job events older than ``before``; return how many went
        (keys ``runs``, ``attempts``, ``task_runs``, ``events``, ``log_files``).

        Only log files inside ``logs_dir`` are deleted: a recorded path elsewhere is
        refused (and logged), whatever row holds it.
        """
        cutoff = {"cutoff": to_epoch(before)}
        old = f"SELECT id FROM runs WHERE queued_at < :cutoff AND state IN {FINISHED_RUN}"
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
                f"DELETE FROM runs WHERE queued_at < :cutoff AND state IN {FINISHED_RUN}",
                cutoff,
            ).rowcount
        counts["log_files"] = _remove_logs(
            (path for row in paths for path in (row["stdout_path"], row["stderr_path"]) if path),
            logs_dir,
        )
        return counts


def _remove_logs(paths: Iterable[str], logs_dir: str | Path) -> int:
    """Delete log files inside ``logs_dir`` and the run folders they leave empty; return
    how many files went."""
    removed = 0
    folders = set()
    for name in paths:
        try:
            removed += logfiles.remove_log(name, logs_dir)
        except logfiles.RefusedLogPathError as exc:
            logger.warning("not deleted: %s", exc)
            continue
        except OSError as exc:
            logger.warning("cannot delete log file %s: %s", name, exc)
        folders.add(os.path.dirname(os.path.realpath(name)))
    folders.discard(os.path.realpath(logs_dir))
    for folder in folders:
        try:
            os.rmdir(folder)
        except OSError:
            logger.debug("log folder %s kept: not empty or gone", folder)
    return removed
