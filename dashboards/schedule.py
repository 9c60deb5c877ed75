"""Fire times of a job's cron schedule in its timezone, for "next run" and lateness.

The dashboard may not import the runner's scheduler, so it asks ``runner.cron`` (the
cron library's home) directly: the expression is read in the job's IANA timezone.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import islice
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from runner import cron

logger = logging.getLogger(__name__)


def next_fire_times(
    schedule: str | None, timezone: str, now: datetime, count: int = 1
) -> tuple[datetime, ...]:
    """The next ``count`` fire times after ``now`` (aware UTC); empty without a schedule."""
    if not schedule:
        return ()
    return _fires(schedule, timezone, now.replace(microsecond=0), count, forward=True)


def previous_fire_time(schedule: str | None, timezone: str, now: datetime) -> datetime | None:
    """The latest fire time at or before ``now`` (aware UTC), or None."""
    if not schedule:
        return None
    # croniter's get_prev excludes its start, so start one second later to include ``now``.
    found = _fires(
        schedule, timezone, now.replace(microsecond=0) + timedelta(seconds=1), 1, forward=False
    )
    return found[0] if found else None


@lru_cache(maxsize=4096)
def _fires(
    schedule: str, timezone: str, start: datetime, count: int, *, forward: bool
) -> tuple[datetime, ...]:
    """Cached per (schedule, zone, second): a thousand jobs share a few dozen schedules."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        logger.warning("unknown timezone %r: reading the schedule in UTC", timezone)
        zone = ZoneInfo("UTC")
    try:
        fires = cron.fire_times(schedule, start.astimezone(zone), forward=forward)
        return tuple(fire.astimezone(UTC) for fire in islice(fires, count))
    except cron.CronError as exc:
        logger.warning("schedule %r cannot be read: %s", schedule, exc)
        return ()
