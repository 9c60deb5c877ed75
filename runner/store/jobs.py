"""The jobs table: the definitions the store knows, and their paused flag."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from runner.errors import NotFoundError
from runner.model import Job
from runner.store.eventlog import Part
from runner.store.records import (
    JobRecord,
    to_epoch,
)
from runner.store.spine_sql import to_json

logger = logging.getLogger(__name__)


class JobTable(Part):
    """Jobs as the store knows them."""

    def sync_jobs(self, jobs: Iterable[Job], at: datetime) -> None:
        """Record the loaded definitions of these jobs (keeping their paused flag)."""
        rows = [
            {
                "name": j.name,
                "owner": j.owner,
                "tags": to_json(list(j.tags)),
                "schedule": j.schedule,
                "timezone": j.timezone,
                "description": j.description,
                "source": j.source,
                "grace": j.grace,
                "expected_duration": j.expected_duration,
                "timeout": j.timeout,
                "runbook": j.runbook,
                "at": to_epoch(at),
            }
            for j in jobs
        ]
        with self._db.transaction():
            self._db.executemany(
                "INSERT INTO jobs (name, owner, tags, schedule, timezone, description, source, "
                "paused, updated_at, grace, expected_duration, timeout, runbook, created_at) "
                "VALUES (:name, :owner, :tags, :schedule, :timezone, :description, :source, 0, "
                ":at, :grace, :expected_duration, :timeout, :runbook, :at) "
                "ON CONFLICT (name) DO UPDATE SET "
                "owner = excluded.owner, tags = excluded.tags, schedule = excluded.schedule, "
                "timezone = excluded.timezone, description = excluded.description, "
                "source = excluded.source, updated_at = excluded.updated_at, "
                "grace = excluded.grace, expected_duration = excluded.expected_duration, "
                "timeout = excluded.timeout, runbook = excluded.runbook",
                rows,
            )

    def set_paused(self, job: str, paused: bool) -> None:
        """Pause or unpause a job the store knows."""
        with self._db.transaction():
            cur = self._db.execute(
                "UPDATE jobs SET paused = :p WHERE name = :name", {"p": int(paused), "name": job}
            )
            if cur.rowcount == 0:
                raise NotFoundError(f"job {job!r} is not known to the store")

    def get_job(self, name: str) -> JobRecord | None:
        """The stored job, or None."""
        rows = self._db.rows("SELECT * FROM jobs WHERE name = :name", {"name": name})
        return JobRecord.from_row(rows[0]) if rows else None

    def list_jobs(self) -> list[JobRecord]:
        """Every stored job, by name."""
        return [JobRecord.from_row(r) for r in self._db.rows("SELECT * FROM jobs ORDER BY name")]
