"""Missed and overdue runs: the dead man's switch over every scheduled job in the store.

A job with a schedule (from the job files through ``Store.sync_jobs``, or registered by
``runwatch wrap --schedule``) promises a run start within ``grace`` of each fire time.
``check_expectations`` — called by `runwatch serve` every few seconds — appends

- ``RunMissed`` once per fire time that passed its grace with no run started since, and
- ``RunOverdue`` once per running run past its ``expected_duration`` (or ``timeout``).

A fire time is kept by any run (or overlap-skipped start) that began at most a little
before it (a minute, or half the schedule's interval if that is shorter, for clock
skew between hosts). Only fire times after the job appeared in the store, after the
last start, after the last reported miss and within ``HORIZON`` are examined, so a
restart or a second `serve` never reports one twice, and a long outage does not flood
the event log. Alerting turns the events into alerts and resolves them on the next
start; ``job_status`` tells `runwatch jobs` whether a job is ``late``. What "due" and
"late" mean (and the default grace) is ``runner.job_health``'s.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from runner import cron
from runner.events import Event, RunMissed, RunOverdue, read_payload
from runner.job_health import LATE, due_until, grace_of, overdue_limit
from runner.scheduling.schedule import runnable
from runner.store import expectation_reads as reads
from runner.store.records import from_epoch
from runner.store.store import Store

logger = logging.getLogger(__name__)

MAX_EARLY_SECONDS = 60.0
"""A run may start this much before its fire time (clock skew) and still count for it."""
HORIZON = timedelta(days=1)
"""Fire times older than this are never reported missed (e.g. after a long outage)."""
MAX_MISSED_PER_CHECK = 10
"""At most this many (the newest) missed fire times per job and check."""


@dataclass(frozen=True)
class Expectation:
    """What a stored job's schedule promises."""

    job: str
    schedule: str
    timezone: str
    grace_seconds: float
    known_since: datetime
    """When the store first knew the job: no fire time before it counts."""

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Expectation:
        """From a ``jobs`` row with a schedule."""
        grace = row["grace"]
        since = row["created_at"] if row["created_at"] is not None else row["updated_at"]
        return cls(
            job=row["name"],
            schedule=row["schedule"],
            timezone=row["timezone"] or "UTC",
            grace_seconds=grace_of(grace).total_seconds(),
            known_since=from_epoch(float(since)),
        )


def previous_fire_times(
    expr: str, timezone: str, since: datetime, until: datetime, *, limit: int | None = None
) -> list[datetime]:
    """The fire times of ``expr`` in ``timezone`` within ``(since, until]``, oldest first, as
    aware UTC datetimes; with ``limit``, only the newest ``limit`` of them.

    Plain cron arithmetic (``runner.cron``); ``runner.scheduling.schedule.Schedule`` (DST
    policies) can replace it.
    """
    times: list[datetime] = []
    for fire in _fire_times_backwards(expr, timezone, until):
        if fire <= since or (limit is not None and len(times) >= limit):
            break
        times.append(fire)
    times.reverse()
    return times


def _fire_times_backwards(expr: str, timezone: str, until: datetime) -> Iterator[datetime]:
    """Fire times at or before ``until``, newest first, aware UTC."""
    from zoneinfo import ZoneInfo

    # fire times are strictly before their start; a microsecond later includes ``until``.
    start = (until + timedelta(microseconds=1)).astimezone(ZoneInfo(timezone))
    for fire in cron.fire_times(expr, start, forward=False):
        yield fire.astimezone(UTC)


def check_expectations(store: Store, now: datetime) -> list[Event]:
    """Append RunMissed and RunOverdue for what became due by ``now``; the new events.

    Safe to call from several `runwatch serve` processes at once: each job is checked
    in one transaction under the event-log lock, so a fire time or run is reported once.
    """
    found: list[Event] = []
    for row in reads.scheduled_jobs(store):
        try:
            expectation = Expectation.from_row(row)
            if not _unkept_fire_times(store, expectation, now, reported=True):
                continue  # the usual case, found without taking the write lock
            with store.event_transaction():
                found.extend(_report_missed(store, expectation, now))
        except Exception:  # one bad schedule must not stop the check of the others
            logger.exception("missed-run check of job %s failed", row["name"])
    found.extend(_report_overdue(store, now))
    return found


def _report_missed(store: Store, expectation: Expectation, now: datetime) -> list[Event]:
    missed = _unkept_fire_times(store, expectation, now, reported=True)
    events: list[Event] = []
    for fire in missed[-MAX_MISSED_PER_CHECK:]:
        event = RunMissed(at=now, job=expectation.job, expected_at=fire)
        events.append(dataclasses.replace(event, id=store.append(event)))
        logger.warning(
            "job %s missed its run at %s (grace %ss)",
            expectation.job,
            fire.isoformat(),
            expectation.grace_seconds,
            extra={"job": expectation.job},
        )
    return events


def _unkept_fire_times(
    store: Store, expectation: Expectation, now: datetime, *, reported: bool
) -> list[datetime]:
    """Fire times past their grace with no start since; without the reported ones when
    ``reported`` is True."""
    if not runnable(expectation.schedule, expectation.timezone):
        return []  # never scheduled (the scheduler says why), so no fire time is missed
    since = max(now - HORIZON, expectation.known_since)
    if reported:
        last_missed = _last_missed_at(store, expectation.job)
        if last_missed is not None:
            since = max(since, last_missed)
    until = due_until(now, expectation.grace_seconds)
    fires = previous_fire_times(
        expectation.schedule, expectation.timezone, since, until, limit=MAX_MISSED_PER_CHECK
    )
    if not fires:
        return []
    last_start = _last_start(store, expectation.job)
    if last_start is None:
        return fires
    early = _early_allowance(expectation, fires[-1])
    return [fire for fire in fires if fire > last_start + early]


def _early_allowance(expectation: Expectation, fire: datetime) -> timedelta:
    """How early a start may be and still keep ``fire``: a minute, or half the interval."""
    schedule, timezone = expectation.schedule, expectation.timezone
    earlier = fire - timedelta(microseconds=1)
    before = previous_fire_times(schedule, timezone, fire - HORIZON * 400, earlier, limit=1)
    if not before:
        return timedelta(seconds=MAX_EARLY_SECONDS)
    return min(timedelta(seconds=MAX_EARLY_SECONDS), (fire - before[0]) / 2)


def _last_start(store: Store, job: str) -> datetime | None:
    """The latest start of a run of ``job``, or of a start ``--overlap skip`` turned away."""
    started = reads.last_start_at(store, job)
    return None if started is None else from_epoch(started)


def _last_missed_at(store: Store, job: str) -> datetime | None:
    payload = reads.last_missed_payload(store, job)
    if payload is None:
        return None
    expected: datetime | None = read_payload(RunMissed.type, json.loads(payload)).get("expected_at")
    return expected


def _report_overdue(store: Store, now: datetime) -> list[Event]:
    events: list[Event] = []
    for run in _overdue_runs(store, now):
        with store.event_transaction():
            if reads.overdue_reported(store, run["id"]):
                continue
            event = RunOverdue(
                at=now, job=run["job"], run_id=run["id"], expected_seconds=run["limit"]
            )
            events.append(dataclasses.replace(event, id=store.append(event)))
        logger.warning(
            "run %s of %s is running past its expected %ss",
            run["id"],
            run["job"],
            run["limit"],
            extra={"job": run["job"], "run_id": run["id"]},
        )
    return events


def _overdue_runs(store: Store, now: datetime) -> list[dict[str, Any]]:
    """Running runs past the job's ``overdue_limit``."""
    overdue = []
    for row in reads.running_with_limits(store):
        limit = overdue_limit(row["expected_duration"], row["timeout"])
        if limit is not None and now.timestamp() - float(row["started_at"]) > limit:
            overdue.append({"id": int(row["id"]), "job": row["job"], "limit": limit})
    return overdue


def job_status(store: Store, job_name: str, now: datetime) -> str | None:
    """``late`` when a due fire time (past its grace) had no start since, or a run is
    past its expected duration; else None."""
    row = reads.job_schedule(store, job_name)
    if row is None:
        return None
    if row["schedule"] is not None and not row["paused"]:
        expectation = Expectation.from_row(row)
        if _unkept_fire_times(store, expectation, now, reported=False):
            return LATE
    if any(run["job"] == job_name for run in _overdue_runs(store, now)):
        return LATE
    return None
