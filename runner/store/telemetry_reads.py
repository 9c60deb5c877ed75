"""Read-only aggregate queries for metrics, in the SQL that SQLite and PostgreSQL share.

runner.telemetry reads them through the store's connection; they never write. Times are
epoch seconds, as stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runner.store.store import Store


_FINISHED = "('success', 'failed', 'cancelled')"


@dataclass(frozen=True)
class JobGauges:
    """What the per-job gauges say, rebuilt from the runs table."""

    job: str
    last_success_at: float | None = None
    last_run_at: float | None = None
    last_run_failed: bool | None = None
    """None when the job has no finished run."""


def job_gauges(store: Store) -> list[JobGauges]:
    """Last success, last start and whether the latest finished run failed, per job."""
    success = _by_job(
        store, "SELECT job, MAX(finished_at) AS v FROM runs WHERE state = 'success' GROUP BY job"
    )
    started = _by_job(
        store,
        "SELECT job, MAX(started_at) AS v FROM runs WHERE started_at IS NOT NULL GROUP BY job",
    )
    latest = store._db.rows(
        "SELECT r.job AS job, r.state AS state FROM runs r JOIN ("
        f"SELECT job, MAX(finished_at) AS f FROM runs WHERE state IN {_FINISHED} GROUP BY job"
        ") m ON r.job = m.job AND r.finished_at = m.f "
        f"WHERE r.state IN {_FINISHED}"
    )
    failed: dict[str, bool] = {}
    for row in latest:  # ties on finished_at: failed if any of them failed
        failed[row["job"]] = failed.get(row["job"], False) or row["state"] == "failed"
    jobs = sorted(set(success) | set(started) | set(failed))
    return [JobGauges(j, success.get(j), started.get(j), failed.get(j)) for j in jobs]


def running_runs(store: Store) -> list[tuple[int, str]]:
    """(run id, job) of every run in the running state."""
    rows = store._db.rows("SELECT id, job FROM runs WHERE state = 'running'")
    return [(int(r["id"]), r["job"]) for r in rows]


def last_heartbeat(store: Store, prefix: str) -> float | None:
    """The newest heartbeat of the processes whose name starts with ``prefix``."""
    value = store._db.scalar(
        "SELECT MAX(at) FROM heartbeats WHERE name LIKE :pattern",
        {"pattern": prefix + "%"},
    )
    return None if value is None else float(value)


def trace_ids(store: Store, run_ids: Iterable[int]) -> dict[int, str]:
    """The stored trace id of each of these runs that has one."""
    ids = sorted(set(run_ids))
    if not ids:
        return {}
    params = {f"r{i}": run_id for i, run_id in enumerate(ids)}
    placeholders = ", ".join(f":{name}" for name in params)
    rows = store._db.rows(
        f"SELECT id, trace_id FROM runs WHERE id IN ({placeholders}) AND trace_id IS NOT NULL",
        params,
    )
    return {int(r["id"]): r["trace_id"] for r in rows}


@dataclass(frozen=True)
class JobTotals:
    """Cumulative counts of one job's runs and attempts, for the Pushgateway."""

    runs: dict[str, int]
    """By run state (success, failed, cancelled)."""
    attempts: dict[tuple[str, str], int]
    """By (task, status): attempt end states, plus skipped and upstream_failed tasks."""
    retries: dict[str, int]
    """By task: attempts after the first."""


def job_totals(store: Store, job: str) -> JobTotals:
    """Everything the store holds about ``job``, counted (uses the job indexes)."""
    runs = {
        r["state"]: int(r["n"])
        for r in store._db.rows(
            f"SELECT state, COUNT(*) AS n FROM runs WHERE job = :job AND state IN {_FINISHED} "
            "GROUP BY state",
            {"job": job},
        )
    }
    attempts: dict[tuple[str, str], int] = {}
    retries: dict[str, int] = {}
    for r in store._db.rows(
        "SELECT task, state, COUNT(*) AS n, SUM(CASE WHEN number > 1 THEN 1 ELSE 0 END) AS again "
        "FROM attempts WHERE job = :job AND state <> 'running' GROUP BY task, state",
        {"job": job},
    ):
        attempts[(r["task"], r["state"])] = int(r["n"])
        retries[r["task"]] = retries.get(r["task"], 0) + int(r["again"] or 0)
    # Tasks that never ran: no attempt row, only their task_runs state.
    for r in store._db.rows(
        "SELECT t.task AS task, t.state AS state, COUNT(*) AS n FROM task_runs t "
        "JOIN runs r ON r.id = t.run_id WHERE r.job = :job "
        "AND t.state IN ('upstream_failed', 'skipped') AND t.attempts = 0 GROUP BY t.task, t.state",
        {"job": job},
    ):
        key = (r["task"], r["state"])
        attempts[key] = attempts.get(key, 0) + int(r["n"])
    return JobTotals(runs, attempts, retries)


def _by_job(store: Store, sql: str) -> dict[str, float]:
    return {r["job"]: float(r["v"]) for r in store._db.rows(sql) if r["v"] is not None}
