"""The run history (filtered, paginated in SQL) and one run with its attempts."""

from __future__ import annotations

import json

from sqlalchemy import ColumnElement, Connection, RowMapping, func, select

from runner.model import RunState, TaskState, Trigger
from runner.store.dashboard_reads.results import (
    AttemptRow,
    Page,
    RunDetail,
    RunFilter,
    RunRow,
    TaskRow,
)
from runner.store.dashboard_reads.sql import (
    as_time,
    like_json_string,
    masked_params,
    seconds_between,
)
from runner.store.records import from_epoch, to_epoch
from runner.store.schema import attempts, jobs, runs, task_runs


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
        started_at=as_time(row["started_at"]),
        finished_at=as_time(row["finished_at"]),
        duration_seconds=seconds_between(row["started_at"], row["finished_at"]),
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
        finished_at=as_time(row["finished_at"]),
        duration_seconds=seconds_between(row["started_at"], row["finished_at"]),
        exit_code=row["exit_code"],
        signal=row["signal"],
        reason=row["reason"],
        error=row["error"],
        stdout_path=row["stdout_path"],
        stderr_path=row["stderr_path"],
        pool=row["pool"],
        span_id=row["span_id"],
    )
