"""The overview's rows: each job's health (failing, late, …), since when, and why.

The numbers come from SQL aggregates (runner.store.dashboard_reads); this module only combines
them per job and reads the job's schedule to tell when it is late and when it runs next.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from dashboards.schedule import next_fire_times, previous_fire_time
from dashboards.timezones import duration_text
from runner.job_health import due_until, overdue_limit
from runner.model import RunState
from runner.store import dashboard_reads as queries
from runner.store.dashboard_reads.results import Health, JobOverview
from runner.store.records import from_epoch

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
            firing=firing.get(name, 0),
            reasons=reasons,
            now=now,
        )
        for name in set(defined) | set(facts)
    ]
    return sorted(rows, key=lambda r: (r.health.rank, r.since or _NEVER, r.name))


def _overview(
    name: str,
    job: Mapping[str, Any] | None,
    fact: Mapping[str, Any] | None,
    stat: Mapping[str, Any],
    *,
    firing: int,
    reasons: Mapping[int, str],
    now: datetime,
) -> JobOverview:
    job = job or {
        "name": name,
        "owner": None,
        "tags": (),
        "schedule": None,
        "timezone": "UTC",
        "paused": 0,
    }
    paused = bool(job["paused"])
    health, since, why = _health(job, fact, reasons, now)
    runs = int(stat.get("runs") or 0)
    nexts = () if paused else next_fire_times(job["schedule"], job["timezone"], now)
    return JobOverview(
        name=name,
        owner=job["owner"],
        tags=tuple(job["tags"]),
        schedule=job["schedule"],
        timezone=job["timezone"],
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
    job: Mapping[str, Any],
    fact: Mapping[str, Any] | None,
    reasons: Mapping[int, str],
    now: datetime,
) -> tuple[Health, datetime | None, str | None]:
    if job["paused"]:
        return Health.PAUSED, None, None
    if fact is None:
        return Health.NEVER_RAN, None, None
    if fact["finished_state"] == RunState.FAILED.value:
        detail = reasons.get(int(fact["finished_id"]))
        why = "; ".join(p for p in (fact["finished_reason"], detail) if p) or None
        return Health.FAILING, _at(fact, "failing_since"), why
    if fact["last_state"] in (RunState.RUNNING.value, RunState.QUEUED.value):
        return _overdue(job, fact, now) or (Health.RUNNING, None, None)
    missed = _missed_fire(job, fact, now)
    if missed is not None:
        return Health.LATE, missed, "no run for the scheduled fire time"
    return Health.OK, None, None


def _overdue(
    job: Mapping[str, Any], fact: Mapping[str, Any], now: datetime
) -> tuple[Health, datetime, str] | None:
    """LATE when the current run has been going longer than the job is expected to take."""
    expected = overdue_limit(job.get("expected_duration"), job.get("timeout"))
    started = _at(fact, "last_run_at")
    if expected is None or started is None:
        return None
    due = started + timedelta(seconds=expected)
    if now <= due:
        return None
    took = duration_text((now - started).total_seconds())
    return Health.LATE, due, f"running for {took}, expected {duration_text(expected)}"


def _missed_fire(job: Mapping[str, Any], fact: Mapping[str, Any], now: datetime) -> datetime | None:
    """The first fire time with no run, once one is due (``job_health``)."""
    due = previous_fire_time(job["schedule"], job["timezone"], due_until(now, job.get("grace")))
    if due is None:
        return None
    created = job.get("created_at")
    if created is not None and due < from_epoch(float(created)):
        return None  # the job did not exist yet at that fire time
    latest = from_epoch(max(float(fact["last_logical"]), float(fact["last_queued"])))
    # a second of slack: a wrapped cron job's logical time is when it was triggered
    if latest >= due - timedelta(seconds=1):
        return None
    first = next_fire_times(job["schedule"], job["timezone"], latest)
    return first[0] if first else due


def _at(fact: Mapping[str, Any] | None, key: str) -> datetime | None:
    if fact is None or fact[key] is None:
        return None
    return from_epoch(float(fact[key]))
