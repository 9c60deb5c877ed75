"""The overview's aggregates: per-job last runs, window statistics, the headline."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, case, func, select

from runner import scheduler_liveness
from runner.model import RunState
from runner.store.alerts import AlertState
from runner.store.dashboard_reads.results import Headline
from runner.store.dashboard_reads.sql import (
    FAILED_ATTEMPT,
    FINISHED,
    as_time,
    duration_percentiles,
    has_alerting,
)
from runner.store.records import to_epoch
from runner.store.schema import alerts, attempts, heartbeats, jobs, runs


def headline(conn: Connection, now: datetime, day_start: datetime) -> Headline:
    """Runs queued and failed since ``day_start``, runs running, firing alerts, heartbeat."""
    start = to_epoch(day_start)
    runs_today = conn.scalar(select(func.count()).where(runs.c.queued_at >= start))
    failed_today = conn.scalar(
        select(func.count()).where(
            runs.c.state == RunState.FAILED.value, runs.c.finished_at >= start
        )
    )
    running = conn.scalar(select(func.count()).where(runs.c.state == RunState.RUNNING.value))
    firing = None
    if has_alerting(conn):
        firing = conn.scalar(select(func.count()).where(alerts.c.state == AlertState.FIRING.value))
    beat = (
        conn.execute(
            select(heartbeats.c.at, heartbeats.c.info)
            .where(heartbeats.c.name.like(scheduler_liveness.HEARTBEAT_PATTERN))
            .order_by(heartbeats.c.at.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    return Headline(
        runs_today=int(runs_today or 0),
        failed_today=int(failed_today or 0),
        running=int(running or 0),
        firing_alerts=None if firing is None else int(firing),
        heartbeat_at=as_time(beat["at"]) if beat else None,
        heartbeat_state=json.loads(beat["info"] or "{}").get("state") if beat else None,
    )


def job_rows(conn: Connection) -> dict[str, dict[str, Any]]:
    """The jobs table, by name (tags decoded)."""
    found = {}
    for row in conn.execute(select(jobs).order_by(jobs.c.name)).mappings():
        item = dict(row)
        item["tags"] = tuple(json.loads(item["tags"] or "[]"))
        found[item["name"]] = item
    return found


def last_runs(conn: Connection) -> dict[str, dict[str, Any]]:
    """Per job: its latest run, latest finished run, last success and failing streak start.

    One pass over the (job, id) index finds each job's newest run; the rest are index
    seeks per job (``ix_runs_job_state_id``), so the cost does not grow with history.
    """
    latest = (
        select(runs.c.job, func.max(runs.c.id).label("last_id")).group_by(runs.c.job).cte("latest")
    )
    other = runs.alias("other")

    def newest(*conditions: ColumnElement[bool]) -> Any:
        return (
            select(func.max(other.c.id))
            .where(other.c.job == latest.c.job, *conditions)
            .scalar_subquery()
        )

    ids = select(
        latest.c.job,
        latest.c.last_id,
        newest(other.c.state.in_(FINISHED)).label("finished_id"),
        newest(other.c.state == RunState.SUCCESS.value).label("success_id"),
        select(func.max(other.c.logical_time))
        .where(other.c.job == latest.c.job)
        .scalar_subquery()
        .label("last_logical"),
    ).cte("ids")
    failing_since = (
        select(func.min(other.c.finished_at))
        .where(
            other.c.job == ids.c.job,
            other.c.state == RunState.FAILED.value,
            other.c.id > func.coalesce(ids.c.success_id, 0),
        )
        .scalar_subquery()
    )
    last, fin, ok = runs.alias("last"), runs.alias("fin"), runs.alias("ok")
    query = (
        select(
            ids,
            last.c.state.label("last_state"),
            last.c.queued_at.label("last_queued"),
            func.coalesce(last.c.started_at, last.c.queued_at).label("last_run_at"),
            fin.c.state.label("finished_state"),
            fin.c.reason.label("finished_reason"),
            ok.c.finished_at.label("success_at"),
            failing_since.label("failing_since"),
        )
        .select_from(ids)
        .join(last, last.c.id == ids.c.last_id)
        .outerjoin(fin, fin.c.id == ids.c.finished_id)
        .outerjoin(ok, ok.c.id == ids.c.success_id)
    )
    return {row["job"]: dict(row) for row in conn.execute(query).mappings()}


def window_stats(conn: Connection, since: datetime) -> dict[str, dict[str, Any]]:
    """Per job, over runs finished since ``since``: counts by outcome and p95 duration.

    Counts come from one GROUP BY over the (job, finished_at, …) covering index; each
    job's p95 is then one ``ORDER BY duration DESC LIMIT 1 OFFSET n`` over its own runs in
    the window, a few hundred to a statement. (Window functions over every run in the
    window cost several times more on SQLite.)
    """
    query = (
        select(
            runs.c.job,
            func.count().label("runs"),
            func.sum(case((runs.c.state == RunState.SUCCESS.value, 1), else_=0)).label("ok"),
            func.sum(case((runs.c.state == RunState.FAILED.value, 1), else_=0)).label("failed"),
            func.count(runs.c.started_at).label("timed"),
        )
        # only finished runs have a finish time (a rerun clears it)
        .where(runs.c.finished_at >= to_epoch(since))
        .group_by(runs.c.job)
    )
    stats = {row["job"]: dict(row) for row in conn.execute(query).mappings()}
    timed = [(job, int(s["timed"])) for job, s in stats.items() if s["timed"]]
    for (job, _), value in zip(timed, duration_percentiles(conn, timed, 95, since), strict=True):
        stats[job]["p95"] = value
    return stats


def firing_by_job(conn: Connection) -> dict[str, int]:
    """Firing alerts per job (empty without the alerting tables)."""
    if not has_alerting(conn):
        return {}
    query = (
        select(alerts.c.job, func.count().label("n"))
        .where(alerts.c.state == AlertState.FIRING.value)
        .group_by(alerts.c.job)
    )
    return {row.job: int(row.n) for row in conn.execute(query)}


def failure_reasons(conn: Connection, run_ids: Iterable[int]) -> dict[int, str]:
    """Per failed run: the latest failed attempt's task and the last line of its error."""
    ids = sorted(set(run_ids))
    if not ids:
        return {}
    ranked = (
        select(
            attempts.c.run_id,
            attempts.c.task,
            attempts.c.number,
            attempts.c.exit_code,
            attempts.c.reason,
            attempts.c.error,
            func.row_number()
            .over(partition_by=attempts.c.run_id, order_by=attempts.c.id.desc())
            .label("rank"),
        )
        .where(attempts.c.run_id.in_(ids), attempts.c.state.in_(FAILED_ATTEMPT))
        .subquery()
    )
    found = {}
    for row in conn.execute(select(ranked).where(ranked.c.rank == 1)).mappings():
        error = (row["error"] or "").strip().splitlines()
        detail = error[-1] if error else row["reason"] or f"exit code {row['exit_code']}"
        found[int(row["run_id"])] = f"{row['task']} (attempt {row['number']}): {detail}"
    return found
