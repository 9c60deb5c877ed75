"""The cron library's home: croniter is imported here and nowhere else.

Schedules (``runner.scheduling``), missed-run checks, alerting's maintenance windows and
the dashboard's "next run" all read cron expressions through these few functions.
croniter is slow to import, so it is imported on first use, never at module load (`wrap`
runs on every cron invocation and must not pay for it).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime


class CronError(ValueError):
    """A cron expression croniter cannot read."""


def parses(expr: str) -> bool:
    """Whether croniter reads ``expr`` (5 or 6 fields, or an alias such as ``@daily``)."""
    from croniter import CroniterError, croniter

    try:
        croniter(expr)
    except (CroniterError, ValueError):
        return False
    return True


def fire_times(expr: str, start: datetime, *, forward: bool = True) -> Iterator[datetime]:
    """The fire times of ``expr`` strictly after ``start`` (``forward``) or strictly
    before it, nearest first, in ``start``'s timezone (naive when it is naive); the
    iterator ends where no date matches any more. Raises CronError for an unreadable
    expression."""
    from croniter import CroniterBadDateError, CroniterError, croniter

    try:
        walker = croniter(expr, start)
    except (CroniterError, ValueError) as exc:
        raise CronError(f"schedule {expr!r} cannot be read: {exc}") from None
    step = walker.get_next if forward else walker.get_prev
    while True:
        try:
            fire: datetime = step(datetime)
        except CroniterBadDateError:
            return
        yield fire
