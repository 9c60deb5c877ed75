"""The logical periods of job-to-job dependencies (``schedule: {after: …, period: day}``):
the one definition of which day or hour, in the job's timezone, holds an instant — the
scheduler, `runwatch jobs` and the dashboard agree on it."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from runner.model import Period


def period_of(period: Period, timezone: str, at: datetime) -> tuple[datetime, datetime]:
    """The period (in ``timezone``) that holds ``at``, as [start, end)."""
    zone = ZoneInfo(timezone)
    local = at.astimezone(zone)
    if period is Period.HOUR:
        start = local.replace(minute=0, second=0, microsecond=0)
        return start, (start.astimezone(ZoneInfo("UTC")) + timedelta(hours=1)).astimezone(zone)
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    following = (local + timedelta(days=1)).date()
    end = datetime(following.year, following.month, following.day, tzinfo=zone)
    return start, end
