"""Job-to-job dependencies at run time: start a job once its upstream jobs have succeeded.

On every poll of the scheduler, each unpaused job with ``schedule: {after: …}`` is
looked at for the current period and the one before (a late upstream may finish after
the period ended): when its run for the period does not exist yet and every upstream
job has a successful run with a logical time in the period, its run is created with the
period's start as logical time. Runs are unique per job and logical time in the store,
so however many schedulers look at once, a period gets exactly one run.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from runner.model import Job, Period, Trigger
from runner.store.records import RunRecord
from runner.store.store import Store

logger = logging.getLogger(__name__)


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


def periods_to_look_at(job: Job, now: datetime) -> list[tuple[datetime, datetime]]:
    """The current period of ``job``'s dependency and the one before it."""
    assert job.depends_on is not None
    current = period_of(job.depends_on.period, job.timezone, now)
    previous = period_of(job.depends_on.period, job.timezone, current[0] - timedelta(seconds=1))
    return [previous, current]


def waiting_for(store: Store, job: Job, start: datetime, end: datetime) -> list[str]:
    """The upstream jobs without a successful run in [start, end)."""
    assert job.depends_on is not None
    return [j for j in job.depends_on.jobs if not store.job_succeeded_between(j, start, end)]


def fire_after(
    store: Store, jobs: Iterable[Job], now: datetime, paused: set[str]
) -> list[RunRecord]:
    """Create the runs of dependent jobs whose upstream jobs have all succeeded."""
    created = []
    for job in jobs:
        if job.depends_on is None or job.name in paused:
            continue
        for start, end in periods_to_look_at(job, now):
            if store.find_run(job.name, start) is not None or waiting_for(store, job, start, end):
                continue
            run = store.create_run(job, start, Trigger.SCHEDULE, now)
            if run is not None:  # None: another scheduler created it first
                created.append(run)
                logger.info(
                    "queued %s for %s: %s succeeded",
                    job.name,
                    start.isoformat(),
                    ", ".join(job.depends_on.jobs),
                    extra={"job": job.name, "run_id": run.id},
                )
    return created
