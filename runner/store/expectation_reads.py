"""Store reads of the missed- and overdue-run checks (runner.scheduling.expectations)."""

from __future__ import annotations

from typing import Any

from runner.store.database import Database

_JOB_SCHEDULE = "SELECT name, schedule, timezone, grace, created_at, updated_at, paused FROM jobs"


def scheduled_jobs(db: Database) -> list[dict[str, Any]]:
    """The ``jobs`` rows with a schedule that are not paused, by name."""
    return db.rows(f"{_JOB_SCHEDULE} WHERE schedule IS NOT NULL AND paused = 0 ORDER BY name")


def job_schedule(db: Database, name: str) -> dict[str, Any] | None:
    """The schedule columns of the job's row, or None."""
    rows = db.rows(f"{_JOB_SCHEDULE} WHERE name = :name", {"name": name})
    return rows[0] if rows else None


def last_start_at(db: Database, job: str) -> float | None:
    """The latest start of a run of ``job``, or of a start ``--overlap skip`` turned away."""
    started = db.scalar("SELECT MAX(started_at) FROM runs WHERE job = :job", {"job": job})
    skipped = db.scalar(
        "SELECT MAX(at) FROM events WHERE job = :job AND type = 'run_skipped'", {"job": job}
    )
    moments = [float(m) for m in (started, skipped) if m is not None]
    return max(moments) if moments else None


def last_missed_payload(db: Database, job: str) -> str | None:
    """The payload of the job's newest ``run_missed`` event, or None."""
    payload = db.scalar(
        "SELECT payload FROM events WHERE job = :job AND type = 'run_missed' "
        "ORDER BY id DESC LIMIT 1",
        {"job": job},
    )
    return None if payload is None else str(payload)


def overdue_reported(db: Database, run_id: int) -> bool:
    """True when the run already has its ``run_overdue`` event."""
    found = db.scalar(
        "SELECT 1 FROM events WHERE run_id = :id AND type = 'run_overdue'", {"id": run_id}
    )
    return found is not None


def running_with_limits(db: Database) -> list[dict[str, Any]]:
    """Running runs with a start time whose job has an expected duration or a timeout:
    ``id``, ``job``, ``started_at``, ``expected_duration``, ``timeout``."""
    return db.rows(
        "SELECT r.id, r.job, r.started_at, j.expected_duration, j.timeout FROM runs r "
        "JOIN jobs j ON j.name = r.job WHERE r.state = 'running' "
        "AND r.started_at IS NOT NULL "
        "AND (j.expected_duration IS NOT NULL OR j.timeout IS NOT NULL)"
    )
