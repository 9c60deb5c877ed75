"""The overview's rows: each job's health (failing, late, …), since when, and why.

The numbers come from SQL aggregates (dashboards.queries); this module only combines
them per job and reads the job's schedule to tell when it is late and when it runs next.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from dashboards import queries
from dashboards.rows import Health, JobOverview
from dashboards.schedule import next_fire_times, previous_fire_time
from runner.model import RunState
from runner.store.records import from_epoch

LATE_AFTER = timedelta(minutes=5)
"""A scheduled run that has not been queued this long after its fire time is late."""
_NEVER = datetime.max.replace(tzinfo=from_epoch(0).tzinfo)


def job_overview(conn: Connection, now: datetime, window: timedelta) -> list[JobOverview]:
    """Every job the store knows, worst first: failing, late, running, ok, never ran, paused."""
    defined = queries.job_rows(conn)
    facts = queries.last_runs(conn)
    stats = queries.window_stats(conn, now - window)
    firing = queries.firing_by_job(conn)
    failed_runs = [
        int(f["finished_id"])
        for f in facts.values()
        if f["finished_state"] == RunState.FAILED.value
    ]
    reasons = queries.failure_reasons(conn, failed_runs)
    rows = [
        _overview(
            name,
            defined.get(name),
            facts.get(name),
            stats.get(name, {}),
            firing.get(name, 0),
            reasons,
            now,
        )
        for name in set(defined) | set(facts)
    ]
    return sorted(rows, key=lambda r: (r.health.rank, r.since or _NEVER, r.name))


def _overview(
    name: str,
    job: Mapping[str, Any] | None,
    fact: Mapping[str, Any] | None,
    stat: Mapping[str, Any],
    firing: int,
    reasons: Mapping[int, str],
    now: datetime,
) -> JobOverview:
    schedule = job["schedule"] if job else None
    timezone = job["timezone"] if job else "UTC"
    paused = bool(job["paused"]) if job else False
    health, since, why = _health(schedule, timezone, paused, fact, reasons, now)
    runs = int(stat.get("runs") or 0)
    nexts = () if paused else next_fire_times(schedule, timezone, now)
    return JobOverview(
        name=name,
        owner=job["owner"] if job else None,
        tags=job["tags"] if job else (),
        schedule=schedule,
        timezone=timezone,
        paused=paused,
        health=health,
        since=since,
        why=why,
        last_run_id=int(fact["last_id"]) if fact else None,
        last_state=RunState(fact["last_state"]) if fact else None,
        last_run_at=_at(fact, "last_run_at"),
        last_success_at=_at(fact, "success_at"),
        next_run_at=nexts[0] if nexts else None,
        window_runs=runs,
        window_failures=int(stat.get("failed") or 0),
        success_rate=int(stat.get("ok") or 0) / runs if runs else None,
        p95_seconds=None if stat.get("p95") is None else float(stat["p95"]),
        firing_alerts=firing,
    )


def _health(
    schedule: str | None,
    timezone: str,
    paused: bool,
    fact: Mapping[str, Any] | None,
    reasons: Mapping[int, str],
    now: datetime,
) -> tuple[Health, datetime | None, str | None]:
    if paused:
        return Health.PAUSED, None, None
    if fact is None:
        return Health.NEVER_RAN, None, None
    if fact["finished_state"] == RunState.FAILED.value:
        detail = reasons.get(int(fact["finished_id"]))
        why = "; ".join(p for p in (fact["finished_reason"], detail) if p) or None
        return Health.FAILING, _at(fact, "failing_since"), why
    missed = _missed_fire(schedule, timezone, fact, now)
    if missed is not None and fact["last_state"] not in (
        RunState.RUNNING.value,
        RunState.QUEUED.value,
    ):
        return Health.LATE, missed, "no run for the scheduled fire time"
    if fact["last_state"] in (RunState.RUNNING.value, RunState.QUEUED.value):
        return Health.RUNNING, None, None
    return Health.OK, None, None


def _missed_fire(
    schedule: str | None, timezone: str, fact: Mapping[str, Any], now: datetime
) -> datetime | None:
    """The first fire time with no run, when it passed more than LATE_AFTER ago."""
    due = previous_fire_time(schedule, timezone, now - LATE_AFTER)
    if due is None:
        return None
    latest = from_epoch(max(float(fact["last_logical"]), float(fact["last_queued"])))
    # a second of slack: a wrapped cron job's logical time is when it was triggered
    if latest >= due - timedelta(seconds=1):
        return None
    first = next_fire_times(schedule, timezone, latest)
    return first[0] if first else due


def _at(fact: Mapping[str, Any] | None, key: str) -> datetime | None:
    if fact is None or fact[key] is None:
        return None
    return from_epoch(float(fact[key]))
