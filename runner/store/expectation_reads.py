"""Store reads of the missed- and overdue-run checks (runner.scheduling.expectations)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runner.store.store import Store


_JOB_SCHEDULE = "SELECT name, schedule, timezone, grace, created_at, updated_at, paused FROM jobs"


def scheduled_jobs(store: Store) -> list[dict[str, Any]]:
    """The ``jobs`` rows with a schedule that are not paused, by name."""
    return store._db.rows(
        f"{_JOB_SCHEDULE} WHERE schedule IS NOT NULL AND paused = 0 ORDER BY name"
    )


def job_schedule(store: Store, name: str) -> dict[str, Any] | None:
    """The schedule columns of the job's row, or None."""
    rows = store._db.rows(f"{_JOB_SCHEDULE} WHERE name = :name", {"name": name})
    return rows[0] if rows else None


def last_start_at(store: Store, job: str) -> float | None:
    """The latest start of a run of ``job``, or of a start ``--overlap skip`` turned away."""
    started = store._db.scalar("SELECT MAX(started_at) FROM runs WHERE job = :job", {"job": job})
    skipped = store._db.scalar(
        "SELECT MAX(at) FROM events WHERE job = :job AND type = 'run_skipped'", {"job": job}
    )
    moments = [float(m) for m in (started, skipped) if m is not None]
    return max(moments) if moments else None


def last_missed_payload(store: Store, job: str) -> str | None:
    """The payload of the job's newest ``run_missed`` event, or None."""
    payload = store._db.scalar(
        "SELECT payload FROM events WHERE job = :job AND type = 'run_missed' "
        "ORDER BY id DESC LIMIT 1",
        {"job": job},
    )
    return None if payload is None else str(payload)


def overdue_reported(store: Store, run_id: int) -> bool:
    """True when the run already has its ``run_overdue`` event."""
    found = store._db.scalar(
        "SELECT 1 FROM events WHERE run_id = :id AND type = 'run_overdue'", {"id": run_id}
    )
    return found is not None


def running_with_limits(store: Store) -> list[dict[str, Any]]:
    """Running runs with a start time whose job has an expected duration or a timeout:
    ``id``, ``job``, ``started_at``, ``expected_duration``, ``timeout``."""
    return store._db.rows(
        "SELECT r.id, r.job, r.started_at, j.expected_duration, j.timeout FROM runs r "
        "JOIN jobs j ON j.name = r.job WHERE r.state = 'running' "
        "AND r.started_at IS NOT NULL "
        "AND (j.expected_duration IS NOT NULL OR j.timeout IS NOT NULL)"
    )
