"""One job: duration trend and percentiles, daily outcomes, attempts per task."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, and_, case, func, literal, select

from runner.model import Period, RunState
from runner.periods import period_of
from runner.store.dashboard_reads.results import (
    DailyOutcome,
    DurationPoint,
    JobDetail,
    JobWait,
    TaskStats,
)
from runner.store.dashboard_reads.sql import (
    FAILED_ATTEMPT,
    FINISHED,
    duration_percentiles,
    percentile_of,
)
from runner.store.records import from_epoch, to_epoch
from runner.store.schema import attempts, jobs, runs


def job_detail(
    conn: Connection,
    name: str,
    since: datetime,
    days: Sequence[tuple[datetime, datetime]],
    *,
    max_points: int = 500,
) -> JobDetail | None:
    """A job's duration trend (with p50/p95), daily outcomes and per-task attempts.

    ``days`` are the viewer's calendar days as (start, end) instants, oldest first; runs
    count on the day of their logical time.
    """
    job = conn.execute(select(jobs).where(jobs.c.name == name)).mappings().first()
    if job is None and conn.scalar(select(runs.c.id).where(runs.c.job == name).limit(1)) is None:
        return None
    start = to_epoch(since)
    mine = and_(runs.c.job == name, runs.c.finished_at >= start)
    p50, p95 = _duration_percentiles(conn, name, since)
    return JobDetail(
        name=name,
        owner=job["owner"] if job else None,
        tags=tuple(json.loads(job["tags"] or "[]")) if job else (),
        schedule=job["schedule"] if job else None,
        timezone=job["timezone"] if job else "UTC",
        description=job["description"] if job else None,
        paused=bool(job["paused"]) if job else False,
        durations=_durations(conn, mine, max_points),
        p50_seconds=p50,
        p95_seconds=p95,
        daily=_daily_outcomes(conn, name, days),
        tasks=_task_stats(conn, name, start),
    )


def job_wait(conn: Connection, name: str, now: datetime) -> JobWait | None:
    """What the run of job ``name`` for the period holding ``now`` waits for, or None
    when the job does not run after other jobs."""
    row = conn.execute(
        select(jobs.c.upstream_jobs, jobs.c.timezone).where(jobs.c.name == name)
    ).first()
    if row is None or row.upstream_jobs is None:
        return None
    stored = json.loads(row.upstream_jobs)
    after, period = tuple(stored["jobs"]), Period(stored["period"])
    start, end = period_of(period, row.timezone, now)
    began = conn.scalar(
        select(runs.c.id).where(runs.c.job == name, runs.c.logical_time == to_epoch(start))
    )
    succeeded = set(
        conn.scalars(
            select(runs.c.job).where(
                runs.c.job.in_(after),
                runs.c.state == RunState.SUCCESS.value,
                runs.c.logical_time >= to_epoch(start),
                runs.c.logical_time < to_epoch(end),
            )
        )
    )
    waiting = () if began is not None else tuple(j for j in after if j not in succeeded)
    return JobWait(after, period.value, start, waiting)


def _durations(
    conn: Connection, mine: ColumnElement[bool], limit: int
) -> tuple[DurationPoint, ...]:
    query = (
        select(runs.c.id, runs.c.state, runs.c.started_at, runs.c.finished_at)
        .where(mine, runs.c.state.in_(FINISHED), runs.c.started_at.is_not(None))
        .order_by(runs.c.id.desc())
        .limit(limit)
    )
    points = [
        DurationPoint(
            run_id=int(r.id),
            state=RunState(r.state),
            started_at=from_epoch(float(r.started_at)),
            duration_seconds=max(0.0, float(r.finished_at) - float(r.started_at)),
        )
        for r in conn.execute(query)
    ]
    return tuple(reversed(points))


def _duration_percentiles(
    conn: Connection, name: str, since: datetime
) -> tuple[float | None, float | None]:
    timed = conn.scalar(
        select(func.count()).where(
            runs.c.job == name,
            runs.c.finished_at >= to_epoch(since),
            runs.c.started_at.is_not(None),
        )
    )
    if not timed:
        return None, None
    p50 = duration_percentiles(conn, [(name, int(timed))], 50, since)
    p95 = duration_percentiles(conn, [(name, int(timed))], 95, since)
    return p50[0], p95[0]


def _daily_outcomes(
    conn: Connection, name: str, days: Sequence[tuple[datetime, datetime]]
) -> tuple[DailyOutcome, ...]:
    if not days:
        return ()
    # A CASE over the day boundaries buckets by the viewer's calendar, DST included,
    # in SQL both databases share.
    bounds = [(to_epoch(lo), to_epoch(hi)) for lo, hi in days]
    day = case(*((runs.c.logical_time < hi, literal(i)) for i, (_lo, hi) in enumerate(bounds)))
    query = (
        select(day.label("day"), runs.c.state, func.count().label("n"))
        .where(
            runs.c.job == name,
            runs.c.logical_time >= bounds[0][0],
            runs.c.logical_time < bounds[-1][1],
        )
        .group_by(day, runs.c.state)
    )
    counts: dict[int, dict[str, int]] = {i: {} for i in range(len(days))}
    for row in conn.execute(query):
        counts[int(row.day)][row.state] = int(row.n)
    return tuple(DailyOutcome(day=days[i][0].date(), counts=counts[i]) for i in range(len(days)))


def _task_stats(conn: Connection, name: str, start: float) -> tuple[TaskStats, ...]:
    duration = attempts.c.finished_at - attempts.c.started_at
    ranked = (
        select(
            attempts.c.task,
            attempts.c.number,
            attempts.c.state,
            duration.label("duration"),
            func.row_number()
            .over(
                partition_by=(attempts.c.task, attempts.c.finished_at.is_(None)), order_by=duration
            )
            .label("rank"),
            func.count(attempts.c.finished_at).over(partition_by=attempts.c.task).label("timed"),
        )
        .where(attempts.c.job == name, attempts.c.started_at >= start)
        .subquery()
    )
    query = (
        select(
            ranked.c.task,
            func.count().label("attempts"),
            func.sum(case((ranked.c.number > 1, 1), else_=0)).label("retries"),
            func.sum(case((ranked.c.state.in_(FAILED_ATTEMPT), 1), else_=0)).label("failures"),
            percentile_of(ranked.c.duration, 0.95, ranked.c.rank, ranked.c.timed).label("p95"),
        )
        .group_by(ranked.c.task)
        .order_by(ranked.c.task)
    )
    return tuple(
        TaskStats(
            task=r.task,
            attempts=int(r.attempts),
            retries=int(r.retries or 0),
            failures=int(r.failures or 0),
            p95_seconds=None if r.p95 is None else float(r.p95),
        )
        for r in conn.execute(query)
    )
