"""The dashboard's read-only queries: every aggregate is computed by the database.

SQLAlchemy Core over the store's tables (runner.store.schema), in SQL that SQLite (3.25
or newer, for window functions) and PostgreSQL share. Percentiles are nearest-rank: the
value at rank ceil(p * n), found as the smallest value whose ROW_NUMBER() is >= p * n.
Times in the store are epoch seconds; everything returned is aware UTC.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Integer,
    RowMapping,
    Select,
    and_,
    bindparam,
    case,
    column,
    func,
    inspect,
    literal,
    select,
    table,
)

from dashboards.rows import (
    AlertRow,
    AlertStatus,
    AlertsView,
    AttemptRow,
    DailyOutcome,
    DurationPoint,
    Headline,
    JobDetail,
    NotificationRow,
    Page,
    RunDetail,
    RunFilter,
    RunRow,
    SilenceRow,
    TaskRow,
    TaskStats,
)
from runner.model import RunState, TaskState, Trigger
from runner.store.database import redact_url
from runner.store.records import from_epoch, to_epoch
from runner.store.schema import (
    alerts,
    attempts,
    heartbeats,
    jobs,
    notifications,
    runs,
    silences,
    task_runs,
)

FINISHED = (RunState.SUCCESS.value, RunState.FAILED.value, RunState.CANCELLED.value)
FAILED_ATTEMPT = (TaskState.FAILED.value, TaskState.TIMED_OUT.value)
SCHEDULER_HEARTBEAT_PREFIX = "scheduler"
"""Heartbeats named ``scheduler…`` are the scheduler's (as for the heartbeat metric)."""
RESOLVED_SHOWN = 100
_PERCENTILES_PER_STATEMENT = 200
NOTIFICATIONS_PER_ALERT = 10
_SECRET_PARAM = re.compile(r"pass|secret|token|key|credential|auth", re.IGNORECASE)
_URL = re.compile(r"\b(https?://[^/\s'\"]+)/[^\s'\"]*")


# -- helpers ------------------------------------------------------------------------


def has_alerting(conn: Connection) -> bool:
    """True when the store has the alerting tables (schema 0003 or newer)."""
    return inspect(conn).has_table("alerts")


def schema_revision(conn: Connection) -> str | None:
    """The store's schema revision (Alembic's), None when there is no store."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    version = table("alembic_version", column("version_num"))
    found = conn.execute(select(version.c.version_num)).scalar()
    return None if found is None else str(found)


def percentile_of(
    value: ColumnElement[Any], fraction: float, rank: ColumnElement[Any], count: ColumnElement[Any]
) -> ColumnElement[Any]:
    """Aggregate: the nearest-rank ``fraction`` percentile of ``value`` in a ranked subquery."""
    return func.min(case((rank >= count * fraction, value)))


def _epoch(value: Any) -> datetime | None:
    return None if value is None else from_epoch(float(value))


def _duration(started: Any, finished: Any) -> float | None:
    if started is None or finished is None:
        return None
    return max(0.0, float(finished) - float(started))


def masked_params(params: Mapping[str, Any]) -> dict[str, str]:
    """Run parameters fit to show: values of secret-looking keys become ``***``."""
    return {k: "***" if _SECRET_PARAM.search(k) else str(v) for k, v in params.items()}


def scrub_text(text: str | None) -> str | None:
    """Delivery errors may echo a webhook URL, whose path is the secret: keep only the host."""
    if text is None:
        return None
    return _URL.sub(lambda m: redact_url(m.group(1)) + "/…", text)


def like_json_string(value: str) -> str:
    """A LIKE pattern matching ``value`` as a string inside a JSON text column."""
    quoted = json.dumps(value)
    return "%" + re.sub(r"([\\%_])", r"\\\1", quoted) + "%"


# -- overview -------------------------------------------------------------------------


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
        firing = conn.scalar(select(func.count()).where(alerts.c.state == AlertStatus.FIRING.value))
    beat = (
        conn.execute(
            select(heartbeats.c.at, heartbeats.c.info)
            .where(heartbeats.c.name.like(SCHEDULER_HEARTBEAT_PREFIX + "%"))
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
        heartbeat_at=_epoch(beat["at"]) if beat else None,
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


def duration_percentiles(
    conn: Connection, counts: Sequence[tuple[str, int]], percent: int, since: datetime
) -> list[float | None]:
    """The nearest-rank ``percent`` percentile of run durations per job, over runs finished
    since ``since``; ``counts`` holds each job with how many such runs have a start time.

    The value at rank ceil(p * n) is read from the longest end (an offset of n - rank), so
    each lookup walks about (100 - p)% of the job's runs in the window on the index.
    """
    found: list[float | None] = []
    for start in range(0, len(counts), _PERCENTILES_PER_STATEMENT):
        chunk = counts[start : start + _PERCENTILES_PER_STATEMENT]
        params: dict[str, Any] = {"since": to_epoch(since)}
        for i, (job, n) in enumerate(chunk):
            params[f"j{i}"] = job
            params[f"o{i}"] = n - -(-percent * n // 100)
        row = conn.execute(_percentile_statement(len(chunk)), params).one()
        found.extend(None if v is None else float(v) for v in row)
    return found


@lru_cache(maxsize=16)
def _percentile_statement(size: int) -> Select[Any]:
    """One scalar subquery per job, bound by name: built once per size, since building
    a few hundred subqueries costs more than running them."""
    duration = runs.c.finished_at - runs.c.started_at
    return select(
        *(
            select(duration)
            .where(
                runs.c.job == bindparam(f"j{i}"),
                runs.c.finished_at >= bindparam("since"),
                runs.c.started_at.is_not(None),
            )
            .order_by(duration.desc())
            .limit(1)
            .offset(bindparam(f"o{i}", type_=Integer))
            .scalar_subquery()
            .label(f"p{i}")
            for i in range(size)
        )
    )


def firing_by_job(conn: Connection) -> dict[str, int]:
    """Firing alerts per job (empty without the alerting tables)."""
    if not has_alerting(conn):
        return {}
    query = (
        select(alerts.c.job, func.count().label("n"))
        .where(alerts.c.state == AlertStatus.FIRING.value)
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


# -- runs -----------------------------------------------------------------------------


def _run_conditions(filters: RunFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.jobs:
        conditions.append(runs.c.job.in_(filters.jobs))
    if filters.states:
        conditions.append(runs.c.state.in_([s.value for s in filters.states]))
    if filters.owner:
        conditions.append(runs.c.job.in_(select(jobs.c.name).where(jobs.c.owner == filters.owner)))
    if filters.tag:
        tagged = jobs.c.tags.like(like_json_string(filters.tag), escape="\\")
        conditions.append(runs.c.job.in_(select(jobs.c.name).where(tagged)))
    if filters.since is not None:
        conditions.append(runs.c.queued_at >= to_epoch(filters.since))
    if filters.until is not None:
        conditions.append(runs.c.queued_at < to_epoch(filters.until))
    return conditions


def _run_row(row: RowMapping) -> RunRow:
    return RunRow(
        id=int(row["id"]),
        job=row["job"],
        state=RunState(row["state"]),
        trigger=Trigger(row["trigger"]),
        logical_time=from_epoch(float(row["logical_time"])),
        queued_at=from_epoch(float(row["queued_at"])),
        started_at=_epoch(row["started_at"]),
        finished_at=_epoch(row["finished_at"]),
        duration_seconds=_duration(row["started_at"], row["finished_at"]),
        reason=row["reason"],
        owner=row.get("owner"),
    )


_RUN_COLUMNS = (
    runs.c.id,
    runs.c.job,
    runs.c.state,
    runs.c.trigger,
    runs.c.logical_time,
    runs.c.queued_at,
    runs.c.started_at,
    runs.c.finished_at,
    runs.c.reason,
)


def runs_page(
    conn: Connection, filters: RunFilter, number: int = 1, size: int = 50
) -> Page[RunRow]:
    """One page of the run history, newest first, with the number of matching runs."""
    conditions = _run_conditions(filters)
    total = int(conn.scalar(select(func.count()).select_from(runs).where(*conditions)) or 0)
    number = max(1, min(number, max(1, -(-total // size))))
    query = (
        select(*_RUN_COLUMNS, jobs.c.owner)
        .select_from(runs.outerjoin(jobs, jobs.c.name == runs.c.job))
        .where(*conditions)
        .order_by(runs.c.id.desc())
        .limit(size)
        .offset((number - 1) * size)
    )
    items = [_run_row(row) for row in conn.execute(query).mappings()]
    return Page(items=items, total=total, number=number, size=size)


def filter_options(conn: Connection) -> tuple[list[str], list[str], list[str]]:
    """Job names, owners and tags known to the store, sorted, for the filter widgets."""
    names, owners, tags = [], set(), set()
    for row in conn.execute(select(jobs.c.name, jobs.c.owner, jobs.c.tags).order_by(jobs.c.name)):
        names.append(row.name)
        if row.owner:
            owners.add(row.owner)
        tags.update(json.loads(row.tags or "[]"))
    return names, sorted(owners), sorted(tags)


# -- run detail -----------------------------------------------------------------------


def run_detail(conn: Connection, run_id: int) -> RunDetail | None:
    """A run with its tasks and every attempt (retries included), or None."""
    row = (
        conn.execute(
            select(*_RUN_COLUMNS, runs.c.params, runs.c.trace_id, runs.c.supervisor, jobs.c.owner)
            .select_from(runs.outerjoin(jobs, jobs.c.name == runs.c.job))
            .where(runs.c.id == run_id)
        )
        .mappings()
        .first()
    )
    if row is None:
        return None
    tasks = tuple(
        TaskRow(task=t.task, state=TaskState(t.state), attempts=int(t.attempts))
        for t in conn.execute(
            select(task_runs.c.task, task_runs.c.state, task_runs.c.attempts)
            .where(task_runs.c.run_id == run_id)
            .order_by(task_runs.c.task)
        )
    )
    found = conn.execute(
        select(attempts).where(attempts.c.run_id == run_id).order_by(attempts.c.id)
    ).mappings()
    return RunDetail(
        run=_run_row(row),
        params=masked_params(json.loads(row["params"] or "{}")),
        trace_id=row["trace_id"],
        supervisor=row["supervisor"],
        tasks=tasks,
        attempts=tuple(_attempt_row(a) for a in found),
    )


def _attempt_row(row: RowMapping) -> AttemptRow:
    return AttemptRow(
        id=int(row["id"]),
        task=row["task"],
        number=int(row["number"]),
        state=TaskState(row["state"]),
        started_at=from_epoch(float(row["started_at"])),
        finished_at=_epoch(row["finished_at"]),
        duration_seconds=_duration(row["started_at"], row["finished_at"]),
        exit_code=row["exit_code"],
        signal=row["signal"],
        reason=row["reason"],
        error=row["error"],
        stdout_path=row["stdout_path"],
        stderr_path=row["stderr_path"],
        pool=row["pool"],
        span_id=row["span_id"],
    )


# -- job detail -----------------------------------------------------------------------


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
    day = case(
        *((runs.c.logical_time < hi, literal(i)) for i, (_lo, hi) in enumerate(bounds)),
    )
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
                partition_by=(attempts.c.task, attempts.c.finished_at.is_(None)),
                order_by=duration,
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


# -- alerts ---------------------------------------------------------------------------


def alerts_view(conn: Connection, now: datetime, resolved_since: datetime) -> AlertsView:
    """Firing alerts, alerts resolved since ``resolved_since``, active silences."""
    if not has_alerting(conn):
        return AlertsView(firing=(), resolved=(), silences=())
    firing = conn.execute(
        select(alerts)
        .where(alerts.c.state == AlertStatus.FIRING.value)
        .order_by(alerts.c.starts_at.desc())
    ).mappings()
    resolved = conn.execute(
        select(alerts)
        .where(
            alerts.c.state == AlertStatus.RESOLVED.value,
            alerts.c.ends_at >= to_epoch(resolved_since),
        )
        .order_by(alerts.c.ends_at.desc())
        .limit(RESOLVED_SHOWN)
    ).mappings()
    firing_rows, resolved_rows = list(firing), list(resolved)
    sent = _notifications(conn, [r["fingerprint"] for r in firing_rows + resolved_rows])
    epoch = to_epoch(now)
    active = conn.execute(
        select(silences)
        .where(silences.c.starts_at <= epoch, silences.c.ends_at > epoch)
        .order_by(silences.c.ends_at)
    ).mappings()
    return AlertsView(
        firing=tuple(_alert_row(r, sent) for r in firing_rows),
        resolved=tuple(_alert_row(r, sent) for r in resolved_rows),
        silences=tuple(
            SilenceRow(
                id=int(s["id"]),
                matchers=tuple(json.loads(s["matchers"])),
                starts_at=from_epoch(float(s["starts_at"])),
                ends_at=from_epoch(float(s["ends_at"])),
                author=s["author"],
                comment=s["comment"],
            )
            for s in active
        ),
    )


def _notifications(
    conn: Connection, fingerprints: Sequence[str]
) -> dict[str, list[NotificationRow]]:
    """The newest notifications whose payload names each alert (payloads are JSON with
    sorted keys and no spaces, so ``"fingerprint":"…"`` appears verbatim)."""
    if not fingerprints:
        return {}
    pattern = literal('%"fingerprint":"') + alerts.c.fingerprint + literal('"%')
    ranked = (
        select(
            alerts.c.fingerprint,
            notifications.c.id,
            notifications.c.receiver,
            notifications.c.status,
            notifications.c.attempts,
            notifications.c.created_at,
            notifications.c.sent_at,
            notifications.c.last_error,
            func.row_number()
            .over(partition_by=alerts.c.fingerprint, order_by=notifications.c.id.desc())
            .label("rank"),
        )
        .select_from(alerts)
        .join(
            notifications,
            and_(
                notifications.c.created_at >= alerts.c.starts_at,
                notifications.c.payload.like(pattern),
            ),
        )
        .where(alerts.c.fingerprint.in_(fingerprints))
        .subquery()
    )
    found: dict[str, list[NotificationRow]] = {}
    query = select(ranked).where(ranked.c.rank <= NOTIFICATIONS_PER_ALERT)
    for r in conn.execute(query.order_by(ranked.c.id.desc())).mappings():
        found.setdefault(r["fingerprint"], []).append(
            NotificationRow(
                id=int(r["id"]),
                fingerprint=r["fingerprint"],
                receiver=r["receiver"],
                status=r["status"],
                attempts=int(r["attempts"]),
                created_at=from_epoch(float(r["created_at"])),
                sent_at=_epoch(r["sent_at"]),
                last_error=scrub_text(r["last_error"]),
            )
        )
    return found


def _alert_row(row: RowMapping, sent: Mapping[str, list[NotificationRow]]) -> AlertRow:
    annotations = json.loads(row["annotations"] or "{}")
    return AlertRow(
        fingerprint=row["fingerprint"],
        alertname=row["alertname"],
        severity=row["severity"],
        job=row["job"],
        state=AlertStatus(row["state"]),
        labels=json.loads(row["labels"] or "{}"),
        summary=annotations.get("summary") or annotations.get("description"),
        starts_at=from_epoch(float(row["starts_at"])),
        ends_at=_epoch(row["ends_at"]),
        flapping=bool(row["flapping"]),
        notifications=tuple(sent.get(row["fingerprint"], ())),
    )
