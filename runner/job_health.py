"""When a scheduled job is late: the one definition `runwatch jobs`, `serve` (its
``run_missed`` and ``run_overdue`` events, which alerting reads) and the dashboard share.

As in Healthchecks, a job promises a run start within its ``grace`` of each fire time:

- a fire time is *due* once ``fire time + grace`` has passed; a due fire time no run
  kept makes the job **late** (and `serve` records one ``run_missed`` for it);
- within the grace a job is not late: the run may still be on its way;
- ``grace`` unset means ``DEFAULT_GRACE``; ``grace: 0s`` means no grace at all;
- a running run is also **late** once it runs longer than the job's expected duration
  (without one, its timeout).
"""

from __future__ import annotations

from datetime import datetime, timedelta

LATE = "late"
"""The status of a late job (`runwatch jobs`, the dashboard's health)."""

DEFAULT_GRACE = timedelta(minutes=5)
"""A job's ``grace`` when it declares none."""


def grace_of(grace_seconds: float | None) -> timedelta:
    """A job's grace: its own (zero included), else ``DEFAULT_GRACE``."""
    return DEFAULT_GRACE if grace_seconds is None else timedelta(seconds=float(grace_seconds))


def due_until(now: datetime, grace_seconds: float | None) -> datetime:
    """The latest fire time that is due at ``now``: one at or before it with no run
    makes the job late."""
    return now - grace_of(grace_seconds)


def overdue_limit(expected_duration: float | None, timeout: float | None) -> float | None:
    """Seconds a run may go on before it is late: the expected duration, else the
    timeout; None when the job sets neither."""
    if expected_duration is not None:
        return float(expected_duration)
    return None if timeout is None else float(timeout)
