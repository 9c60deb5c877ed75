"""Recovery after crashes, heartbeats and pruning: the store's housekeeping."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from runner import supervisor
from runner.model import RunState, TaskState
from runner.store import logfiles
from runner.store.attempts import AttemptTable
from runner.store.eventlog import to_json
from runner.store.records import (
    AttemptRecord,
    to_epoch,
)
from runner.store.recovery import ORPHANED, kill_leftover
from runner.store.runs import FINISHED_RUN, RunTable

logger = logging.getLogger(__name__)


class Maintenance(RunTable, AttemptTable):
    """Orphan recovery, heartbeats and retention."""

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
