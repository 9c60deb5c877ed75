"""Store queries of the scheduler: claiming runs, finding the work of dead processes.

A run is *claimed* by setting its ``supervisor`` with a conditional UPDATE, so when
several schedulers share a database exactly one of them starts each run.
"""

from __future__ import annotations

import json
from datetime import datetime

from runner import processes
from runner.events import RunSkipped, read_payload
from runner.store.records import RunRecord, from_epoch, to_epoch
from runner.store.store import ORPHANED, Store


def claim_run(store: Store, run_id: int, *, reclaim: bool = False) -> bool:
    """Claim a queued, unclaimed run for this process; ``reclaim`` takes over an orphaned
    (failed, reason orphaned) one instead. True when this process won it."""
    if reclaim:
        condition = "state = 'failed' AND reason = :orphaned"
    else:
        condition = "state = 'queued' AND supervisor IS NULL"
    with store.transaction():
        cur = store._db.execute(
            f"UPDATE runs SET supervisor = :me WHERE id = :id AND {condition}",
            {"me": processes.current(), "id": run_id, "orphaned": ORPHANED},
        )
    return cur.rowcount == 1


def queued_runs(store: Store, limit: int = 500) -> list[RunRecord]:
    """Unclaimed queued runs, oldest logical time first; backfill runs after all others, so
    a backfill left behind never delays the job's scheduled or manual runs."""
    rows = store._db.rows(
        "SELECT * FROM runs WHERE state = 'queued' AND supervisor IS NULL "
        "ORDER BY CASE WHEN trigger = 'backfill' THEN 1 ELSE 0 END, logical_time, id "
        "LIMIT :limit",
        {"limit": limit},
    )
    return [RunRecord.from_row(r) for r in rows]


def active_runs(store: Store, job: str) -> list[RunRecord]:
    """Runs of ``job`` that are running, or queued and claimed (about to run)."""
    rows = store._db.rows(
        "SELECT * FROM runs WHERE job = :job AND (state = 'running' OR "
        "(state = 'queued' AND supervisor IS NOT NULL)) ORDER BY id",
        {"job": job},
    )
    return [RunRecord.from_row(r) for r in rows]


def last_fire_time(store: Store, job: str) -> datetime | None:
    """The newest fire time the schedulers handled for ``job``: run or recorded skip."""
    run_time = store._db.scalar(
        "SELECT MAX(logical_time) FROM runs WHERE job = :job AND trigger = 'schedule'",
        {"job": job},
    )
    skipped = store._db.scalar(
        "SELECT payload FROM events WHERE job = :job AND type = 'run_skipped' "
        "ORDER BY id DESC LIMIT 1",
        {"job": job},
    )
    times = [t for t in (from_epoch(run_time),) if t is not None]
    if skipped is not None:
        logical = read_payload(RunSkipped.type, json.loads(skipped)).get("logical_time")
        if logical is not None:
            times.append(logical)
    return max(times) if times else None


def orphaned_runs(store: Store, since: datetime) -> list[RunRecord]:
    """Runs failed as orphaned since ``since``: candidates to resume. Scheduled, manual and
    backfill runs alike; wrapped runs belong to cron, which runs them again itself."""
    rows = store._db.rows(
        "SELECT * FROM runs WHERE state = 'failed' AND reason = :orphaned "
        "AND trigger <> 'wrap' AND finished_at >= :since ORDER BY id",
        {"orphaned": ORPHANED, "since": to_epoch(since)},
    )
    return [RunRecord.from_row(r) for r in rows]


def release_dead_claims(store: Store) -> int:
    """Unclaim queued runs whose claiming process died before starting them."""
    owners = store._db.rows(
        "SELECT DISTINCT supervisor FROM runs WHERE state = 'queued' AND supervisor IS NOT NULL"
    )
    released = 0
    for row in owners:
        if processes.is_alive(row["supervisor"]):
            continue
        with store.transaction():
            released += store._db.execute(
                "UPDATE runs SET supervisor = NULL WHERE state = 'queued' AND supervisor = :s",
                {"s": row["supervisor"]},
            ).rowcount
    return released
