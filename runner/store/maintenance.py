"""Heartbeats and pruning: the store's housekeeping (orphan recovery: ``recovery``)."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any

from runner.store import logfiles
from runner.store.eventlog import Part
from runner.store.records import (
    to_epoch,
)
from runner.store.runs import FINISHED_RUN
from runner.store.spine_sql import to_json

logger = logging.getLogger(__name__)


class Maintenance(Part):
    """Heartbeats and retention."""

    # -- maintenance --------------------------------------------------------------

    def heartbeat(self, name: str, at: datetime, info: dict[str, Any] | None = None) -> None:
        """Record that the named long-running process is alive."""
        with self._db.transaction():
            self._db.execute(
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
        with self._db.transaction():
            paths = self._db.rows(
                f"SELECT stdout_path, stderr_path FROM attempts WHERE run_id IN ({old})", cutoff
            )
            counts = {
                table: self._db.execute(
                    f"DELETE FROM {table} WHERE run_id IN ({old})", cutoff
                ).rowcount
                for table in ("attempts", "task_runs")
            }
            counts["events"] = self._db.execute(
                f"DELETE FROM events WHERE run_id IN ({old}) OR (run_id IS NULL AND at < :cutoff)",
                cutoff,
            ).rowcount
            counts["runs"] = self._db.execute(
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
