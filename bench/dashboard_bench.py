"""Benchmark of the dashboard's queries at scale (issue 7): each page's queries together
must take at most 1 s on SQLite on a 2-core machine.

    python bench/dashboard_bench.py [--jobs 1000] [--attempts 1000000] [--wide 2000] [--db PATH]

Seeds a SQLite store (through ``Store.open``, so at the head schema with its indexes)
with ``--jobs`` hourly jobs of three tasks (extract -> transform -> load) and runs enough
for ``--attempts`` attempts: every third run retries ``transform`` once, 5% of the jobs
are failing (their latest run exhausted its retries), 2.5% are late, 2% paused, and 1%
have a run in progress; plus firing and resolved alerts with their notifications and a
few silences; and one run of ``--wide`` tasks (1 -> N-2 -> 1, its graph recorded, every
tenth middle task retried once, a few failed). Rows go in with ``executemany`` on the
store's private connection (``store._db``, as tests/storesql.py gives it to tests) in
large transactions. Events are not seeded: no page reads them.

It then times the queries each page runs (the same functions the pages call), cold (the
first call on a fresh connection) and warm (median of five), and prints a table. The run
pages also build their charts (graph and the first page of the Gantt), as the page does
before handing them to Streamlit.

Target: <= 1 s of queries per page. Recorded figures: bench/README.md, from bench/run.py.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from dashboards import health
from dashboards.database import connect_readonly
from dashboards.gantt import gantt, task_order
from dashboards.gantt import pages as gantt_pages
from dashboards.graph import graph_chart
from dashboards.timezones import day_bounds
from runner.model import RunState
from runner.store import dashboard_reads as queries
from runner.store.dashboard_reads.results import RunFilter
from runner.store.run_graph import run_graph
from runner.store.store import Store

NOW = datetime(2025, 3, 14, 9, 30, tzinfo=UTC)
TASKS = ("extract", "transform", "load")
OWNERS = ("data", "platform", "growth", "finance", "ml", "search", "ads", "ops")
ZONES = ("UTC", "Europe/Berlin", "America/New_York")
ATTEMPTS_PER_RUN = 10 / 3  # three tasks, plus one retry every third run
WINDOW = timedelta(days=7)
REPEATS = 5
BUDGET_SECONDS = 1.0
WIDE_JOB = "wide"


def _fire_time(j: int, k: int) -> float:
    """Job ``j``'s hourly fire time (at minute j % 60), ``k`` fires before its last one more
    than 5 minutes before NOW (the dashboard's grace before calling a job late)."""
    last = NOW.replace(minute=j % 60, second=0, microsecond=0)
    if last > NOW - timedelta(minutes=5):
        last -= timedelta(hours=1)
    return last.timestamp() - k * 3600


def _run_rows(job: str, j: int, run_count: int, run_id: int) -> Iterator[dict[str, Any]]:
    """Runs of one job, oldest first, with (task_runs, attempts) hung on each."""
    rng = random.Random(j)
    failing, late = j % 20 == 3, j % 40 == 7
    running = j % 100 == 11
    offset = 6 if late else 0
    for k in range(run_count - 1 + offset, offset - 1, -1):
        logical = _fire_time(j, k)
        started = logical + 2
        retried = k % 3 == 0
        fails = failing and k < 3 + offset
        in_progress = running and k == offset
        t, tasks, tries = started, [], []
        for task in TASKS:
            numbers = 1
            if task == "transform" and (retried or fails):
                numbers = 3 if fails else 2
            if task == "load" and fails:
                tasks.append((task, "upstream_failed", 0))
                continue
            for number in range(1, numbers + 1):
                length = rng.uniform(5, 60) if task != "transform" else rng.uniform(30, 600)
                bad = number < numbers or (fails and task == "transform")
                if in_progress:
                    state = "running"
                elif bad:
                    state = "failed"
                else:
                    state = "success"
                end = None if in_progress else t + length
                tries.append((task, number, state, t, end, 1 if bad else 0))
                t += length
                if in_progress:
                    break
            tasks.append((task, tries[-1][2] if tries else "pending", numbers))
            if in_progress:
                break
        state = "running" if in_progress else ("failed" if fails else "success")
        yield {
            "id": run_id,
            "job": job,
            "lt": logical,
            "state": state,
            "queued": logical + 1,
            "started": started,
            "finished": None if in_progress else t,
            "reason": "task transform failed" if fails else None,
            "tasks": tasks,
            "attempts": tries,
        }
        run_id += 1


def seed(store: Store, job_count: int, attempt_target: int, wide: int = 2000) -> dict[str, int]:
    """Fill the store; return the row counts."""
    runs_per_job = max(1, round(attempt_target / job_count / ATTEMPTS_PER_RUN))
    db, at = store._db, NOW.timestamp()
    counts = {"jobs": 0, "runs": 0, "task_runs": 0, "attempts": 0}
    run_id = attempt_id = 1
    chunk = 50
    for first in range(0, job_count, chunk):
        job_rows, run_rows, task_rows, attempt_rows = [], [], [], []
        for j in range(first, min(first + chunk, job_count)):
            name = f"job-{j:04d}"
            job_rows.append(
                {
                    "name": name,
                    "owner": OWNERS[j % len(OWNERS)],
                    "tags": json.dumps(["hourly", f"domain-{j % 12}"]),
                    "schedule": f"{j % 60} * * * *",
                    "tz": ZONES[j % len(ZONES)],
                    "paused": int(j % 50 == 49),
                    "at": at,
                }
            )
            for run in _run_rows(name, j, runs_per_job, run_id):
                run_id = run["id"] + 1
                run_rows.append({k: v for k, v in run.items() if k not in ("tasks", "attempts")})
                task_rows += [
                    {"run": run["id"], "task": task, "state": state, "n": n, "at": at}
                    for task, state, n in run["tasks"]
                ]
                for task, number, state, start, end, bad in run["attempts"]:
                    attempt_rows.append(
                        {
                            "id": attempt_id,
                            "run": run["id"],
                            "job": name,
                            "task": task,
                            "number": number,
                            "state": state,
                            "start": start,
                            "end": end,
                            "code": None if end is None else bad,
                            "error": "ValueError: row 42 has no id" if bad else None,
                            "out": f"/var/lib/runwatch/logs/{name}/{run['id']}/{task}.{number}.out",
                        }
                    )
                    attempt_id += 1
        with db.transaction():
            db.executemany(
                "INSERT INTO jobs (name, owner, tags, schedule, timezone, paused, updated_at) "
                "VALUES (:name, :owner, :tags, :schedule, :tz, :paused, :at)",
                job_rows,
            )
            db.executemany(
                "INSERT INTO runs (id, job, logical_time, trigger, state, params, queued_at, "
                "started_at, finished_at, reason) VALUES (:id, :job, :lt, 'schedule', :state, "
                "'{}', :queued, :started, :finished, :reason)",
                run_rows,
            )
            db.executemany(
                "INSERT INTO task_runs (run_id, task, state, attempts, updated_at) "
                "VALUES (:run, :task, :state, :n, :at)",
                task_rows,
            )
            db.executemany(
                "INSERT INTO attempts (id, run_id, job, task, number, state, started_at, "
                "finished_at, exit_code, error, stdout_path) VALUES (:id, :run, :job, :task, "
                ":number, :state, :start, :end, :code, :error, :out)",
                attempt_rows,
            )
        counts["jobs"] += len(job_rows)
        counts["runs"] += len(run_rows)
        counts["task_runs"] += len(task_rows)
        counts["attempts"] += len(attempt_rows)
    counts.update(_seed_alerts(store, job_count))
    counts["wide_run_attempts"] = _seed_wide_run(store, run_id, attempt_id, wide)
    store.heartbeat("scheduler-bench", NOW - timedelta(seconds=20))
    with db.transaction():
        db.execute("ANALYZE")
    return counts


def _seed_wide_run(store: Store, run_id: int, attempt_id: int, width: int) -> int:
    """One finished run of ``width`` tasks, ``start -> t0001..tN -> end``, with its graph;
    every tenth middle task failed once and retried, every hundredth failed for good (so
    ``end`` is upstream_failed). Returns its attempt count."""
    middle = [f"t{i:04d}" for i in range(1, width - 1)]
    upstream = {"start": [], **{t: ["start"] for t in middle}, "end": middle}
    rng, t0 = random.Random(width), NOW.timestamp() - 3600
    tries: list[tuple[str, int, str, float, float]] = [("start", 1, "success", t0, t0 + 2.5)]
    states = {"start": ("success", 1)}
    for i, task in enumerate(middle, 1):
        begin, numbers = t0 + 2.5 + rng.uniform(0, 60), 2 if i % 10 == 0 else 1
        for number in range(1, numbers + 1):
            length = rng.uniform(0.05, 30)
            bad = number < numbers or i % 100 == 0
            tries.append((task, number, "failed" if bad else "success", begin, begin + length))
            begin += length + 0.5
        states[task] = (tries[-1][2], numbers)
    states["end"] = ("upstream_failed", 0)
    db, at = store._db, NOW.timestamp()
    with db.transaction():
        db.execute(
            "INSERT INTO jobs (name, owner, tags, schedule, timezone, paused, updated_at) "
            "VALUES (:name, 'data', '[]', NULL, 'UTC', 0, :at)",
            {"name": WIDE_JOB, "at": at},
        )
        db.execute(
            "INSERT INTO runs (id, job, logical_time, trigger, state, params, queued_at, "
            "started_at, finished_at, reason) VALUES (:id, :job, :t, 'manual', 'failed', '{}', "
            ":t, :t, :end, 'task t0100 failed')",
            {"id": run_id, "job": WIDE_JOB, "t": t0, "end": max(a[4] for a in tries)},
        )
        db.executemany(
            "INSERT INTO task_runs (run_id, task, state, attempts, upstream, updated_at) "
            "VALUES (:run, :task, :state, :n, :upstream, :at)",
            [
                {
                    "run": run_id,
                    "task": task,
                    "state": state,
                    "n": n,
                    "at": at,
                    "upstream": json.dumps(upstream[task]),
                }
                for task, (state, n) in states.items()
            ],
        )
        db.executemany(
            "INSERT INTO attempts (id, run_id, job, task, number, state, started_at, "
            "finished_at, exit_code, error) VALUES (:id, :run, :job, :task, :number, :state, "
            ":start, :end, :code, :error)",
            [
                {
                    "id": attempt_id + k,
                    "run": run_id,
                    "job": WIDE_JOB,
                    "task": task,
                    "number": number,
                    "state": state,
                    "start": start,
                    "end": end,
                    "code": int(state == "failed"),
                    "error": "ValueError: row 42 has no id" if state == "failed" else None,
                }
                for k, (task, number, state, start, end) in enumerate(tries)
            ],
        )
    return len(tries)


def _seed_alerts(store: Store, job_count: int) -> dict[str, int]:
    db, at = store._db, NOW.timestamp()
    alert_rows, note_rows = [], []
    for i in range(2000):
        job = f"job-{(i * 7) % job_count:04d}"
        firing = i < 50
        fingerprint = f"{i:016x}"
        starts = at - 3600 * (1 + i % 300)
        labels = {"alertname": "JobFailed", "job": job, "severity": "page"}
        alert_rows.append(
            {
                "fp": fingerprint,
                "job": job,
                "state": "firing" if firing else "resolved",
                "labels": json.dumps(labels, sort_keys=True),
                "ann": json.dumps({"summary": f"{job} failed"}),
                "starts": starts,
                "ends": None if firing else starts + 1800,
                "at": at,
            }
        )
        for status in ("firing",) if firing else ("firing", "resolved"):
            payload = {"alerts": [{"fingerprint": fingerprint, "status": status}]}
            note_rows.append(
                {
                    "receiver": "slack-data",
                    "group": f'{{}}:{{job="{job}"}}',
                    "payload": json.dumps(payload, separators=(",", ":"), sort_keys=True),
                    "created": starts + (0 if status == "firing" else 1800),
                }
            )
    with db.transaction():
        db.executemany(
            "INSERT INTO alerts (fingerprint, alertname, severity, job, state, labels, "
            "annotations, details, starts_at, ends_at, updated_at) VALUES (:fp, 'JobFailed', "
            "'page', :job, :state, :labels, :ann, '{}', :starts, :ends, :at)",
            alert_rows,
        )
        db.executemany(
            "INSERT INTO notifications (receiver, group_key, status, payload, attempts, "
            "next_attempt_at, created_at, sent_at) VALUES (:receiver, :group, 'sent', "
            ":payload, 1, :created, :created, :created)",
            note_rows,
        )
        db.executemany(
            "INSERT INTO silences (matchers, starts_at, ends_at, author, comment, created_at) "
            "VALUES (:m, :s, :e, 'oncall', 'maintenance', :s)",
            [
                {"m": json.dumps([f'job="job-{i:04d}"']), "s": at - 600, "e": at + 3600}
                for i in range(10)
            ],
        )
    return {"alerts": len(alert_rows), "notifications": len(note_rows)}


def pages(conn: Connection) -> dict[str, Callable[[], object]]:
    """Each page's queries, as the page runs them."""
    zone = "Europe/Berlin"
    retried = conn.exec_driver_sql(
        "SELECT run_id FROM attempts WHERE number = 2 AND job <> ? ORDER BY id DESC LIMIT 1",
        (WIDE_JOB,),
    ).scalar_one()
    wide = conn.exec_driver_sql("SELECT max(id) FROM runs WHERE job = ?", (WIDE_JOB,)).scalar_one()
    width = conn.exec_driver_sql(
        "SELECT count(*) FROM task_runs WHERE run_id = ?", (wide,)
    ).scalar_one()

    def overview(window: timedelta = WINDOW) -> object:
        queries.schema_revision(conn)
        queries.headline(conn, NOW, NOW.replace(hour=0, minute=0))
        return health.job_overview(conn, NOW, window)

    def overview_month() -> object:
        return overview(timedelta(days=30))

    def runs() -> object:
        queries.filter_options(conn)
        return queries.runs_page(conn, RunFilter(), 1, 50)

    def runs_filtered() -> object:
        queries.filter_options(conn)
        filters = RunFilter(
            states=(RunState.FAILED,), owner="data", tag="domain-3", since=NOW - WINDOW
        )
        return queries.runs_page(conn, filters, 2, 50)

    def runs_deep_page() -> object:
        queries.filter_options(conn)
        return queries.runs_page(conn, RunFilter(), 2000, 50)

    def run_page(run_id: int) -> object:
        detail = queries.run_detail(conn, run_id)
        assert detail is not None
        graph_chart(detail.tasks, run_graph(conn, run_id) or {})
        rows = task_order(detail.attempts)
        first, last = gantt_pages(rows)[0]
        return gantt(detail.attempts, zone, NOW, rows[first - 1 : last])

    def run_detail() -> object:
        return run_page(int(retried))

    def wide_run() -> object:
        return run_page(int(wide))

    def job_detail() -> object:
        days = day_bounds(NOW, zone, 30)
        return queries.job_detail(conn, "job-0003", NOW - timedelta(days=30), days)

    def alerts() -> object:
        return queries.alerts_view(conn, NOW, NOW - timedelta(days=7))

    return {
        "overview (7 days)": overview,
        "overview (30 days)": overview_month,
        "runs (first page)": runs,
        "runs (filtered)": runs_filtered,
        "runs (page 2000)": runs_deep_page,
        "run detail": run_detail,
        f"run detail ({width:,} tasks)": wide_run,
        "job detail (30 days)": job_detail,
        "alerts": alerts,
    }


def measure(url: str) -> dict[str, tuple[float, float]]:
    """(cold, warm median) seconds per page; cold is the first call on a fresh connection,
    once the process has imported what the app imports at startup."""
    import croniter  # noqa: F401 - imported once per app process, not per page

    results = {}
    engine = connect_readonly(url)
    try:
        for name in pages(engine.connect()):
            with engine.connect() as conn:
                page = pages(conn)[name]
                start = time.perf_counter()
                page()
                cold = time.perf_counter() - start
                warm = []
                for _ in range(REPEATS):
                    start = time.perf_counter()
                    page()
                    warm.append(time.perf_counter() - start)
            results[name] = (cold, statistics.median(warm))
    finally:
        engine.dispose()
    return results


def slowest_page_s(
    jobs: int = 1000, attempts: int = 1_000_000, db: Path | None = None, wide: int = 2000
) -> float:
    """Seed (unless ``db`` exists), time every page, print the table and return the slowest
    page's seconds, first call or warm."""
    with tempfile.TemporaryDirectory() as tmp:
        path = db or Path(tmp) / "bench.db"
        url = f"sqlite:///{path}"
        if not path.exists():
            start = time.perf_counter()
            with Store.open(url) as store:
                counts = seed(store, jobs, attempts, wide)
            took = time.perf_counter() - start
            print(f"seeded {counts} in {took:.1f} s ({path.stat().st_size / 2**20:.0f} MiB)")
        worst = 0.0
        print(f"{'page':24} {'cold s':>8} {'warm s':>8}")
        for name, (cold, warm) in measure(url).items():
            worst = max(worst, cold, warm)
            print(f"{name:24} {cold:8.3f} {warm:8.3f}")
    return worst


def main(argv: list[str] | None = None) -> int:
    """Seed (unless the database exists) and time every page."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--attempts", type=int, default=1_000_000)
    parser.add_argument("--wide", type=int, default=2000, help="tasks of the wide run")
    parser.add_argument("--db", type=Path, help="SQLite file (kept; reused when it exists)")
    args = parser.parse_args(argv)
    worst = slowest_page_s(args.jobs, args.attempts, args.db, args.wide)
    verdict = "ok" if worst <= BUDGET_SECONDS else "OVER BUDGET"
    print(f"slowest page: {worst:.3f} s (budget {BUDGET_SECONDS:.1f} s): {verdict}")
    return 0 if worst <= BUDGET_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
