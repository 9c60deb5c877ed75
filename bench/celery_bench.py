"""Attempts per second through Celery with 1, 2 and 4 worker processes. Results go to
bench/README.md.

    python bench/celery_bench.py [--tasks N] [--repeat R] [--broker URL] [--pg URL]

An engine in this process (the Celery executor, PostgreSQL store) runs one run of a job
of N independent `true` tasks; one `runwatch worker --concurrency K` consumes them from
Redis. Each attempt costs: its rows and events written by the engine, a broker round
trip, the worker's claim, a subprocess, the outcome written by the worker and read back
by the executor's poll. Reported: N / wall time of the run, median of R runs, for
K = 1, 2, 4, next to the local executor running K attempts at a time on the same store.
"""

from __future__ import annotations

import argparse
import os
import queue
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg

from runner.clock import utcnow
from runner.config import load_settings
from runner.definitions import load_definitions
from runner.engine.engine import Engine
from runner.engine.executor import Executor, Message
from runner.executors.celery import CeleryExecutor, celery_settings
from runner.executors.local.executor import LocalExecutor
from runner.model import RunState, Trigger
from runner.store.store import Store

ROOT = Path(__file__).resolve().parent.parent
T0 = datetime(2026, 1, 1, tzinfo=UTC)
BROKER = "redis://127.0.0.1:6379/0"
PG = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def jobs_yaml(tasks: int) -> str:
    lines = ["jobs:", "  many:", "    tasks:"]
    for i in range(tasks):
        lines += [f"      t{i}:", "        command: ['true']"]
    return "\n".join(lines) + "\n"


def start_worker(tmp: Path, env: dict[str, str], concurrency: int) -> subprocess.Popen[bytes]:
    log = (tmp / f"worker-{concurrency}.log").open("w")
    config = str(tmp / "runwatch.yaml")
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "runner",
            "worker",
            "--config",
            config,
            "--concurrency",
            str(concurrency),
        ],
        cwd=tmp,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while "ready." not in (tmp / f"worker-{concurrency}.log").read_text():
        if time.monotonic() > deadline or worker.poll() is not None:
            raise SystemExit((tmp / f"worker-{concurrency}.log").read_text())
        time.sleep(0.05)
    return worker


def one_run(
    store: Store, executor: Executor, messages: Any, tmp: Path, n: int, *, at_once: int
) -> float:
    jobs = load_definitions([tmp / "jobs.yaml"]).jobs
    engine = Engine(store, executor, messages, log_dir=tmp / "logs", workers=at_once)
    store.sync_jobs(jobs.values(), utcnow())
    lt = T0 + timedelta(seconds=len(store.list_runs(limit=10_000)))
    run = store.create_run(jobs["many"], lt, Trigger.MANUAL, utcnow())
    assert run is not None
    began = time.perf_counter()
    finished = engine.execute(jobs["many"], run)
    elapsed = time.perf_counter() - began
    assert finished.state is RunState.SUCCESS, finished.reason
    return n / elapsed


def measure(args: argparse.Namespace) -> dict[str, float]:
    """Print, and return, the median attempts/s per setting ("celery K=1", "local K=1", …)."""
    medians = {}
    schema = f"rw_bench_{secrets.token_hex(4)}"
    conninfo = "postgresql://" + args.pg.split("://", 1)[1]
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    separator = "&" if "?" in args.pg else "?"
    db_url = f"{args.pg}{separator}options=-csearch_path%3D{schema}"
    queue_name = f"rw-bench-{secrets.token_hex(4)}"
    try:
        with tempfile.TemporaryDirectory() as folder:
            tmp = Path(folder)
            (tmp / "jobs.yaml").write_text(jobs_yaml(args.tasks))
            (tmp / "runwatch.yaml").write_text(
                f"jobs: [jobs.yaml]\nexecutor:\n  kind: celery\n  queue: {queue_name}\n"
                "  poll_interval: 20ms\n  heartbeat_interval: 1s\n"
            )
            env = {k: v for k, v in os.environ.items() if not k.startswith("RUNWATCH_")}
            env.update(
                RUNWATCH_HOME=str(tmp / "home"),
                RUNWATCH_DB_URL=db_url,
                RUNWATCH_CELERY_BROKER_URL=args.broker,
                PYTHONPATH=str(ROOT),
            )
            settings = celery_settings(load_settings(tmp / "runwatch.yaml", env=env, cwd=tmp), env)
            store = Store.open(db_url)
            for concurrency in args.concurrency:
                local = []
                for _ in range(args.repeat):
                    messages: queue.SimpleQueue[Message] = queue.SimpleQueue()
                    executor: Executor = LocalExecutor(messages, python_workers=concurrency)
                    local.append(
                        one_run(store, executor, messages, tmp, args.tasks, at_once=concurrency)
                    )
                    executor.shutdown()
                worker = start_worker(tmp, env, concurrency)
                celery = []
                try:
                    for _ in range(args.repeat):
                        messages = queue.SimpleQueue()
                        executor = CeleryExecutor(messages, settings, db_url=db_url)
                        # Everything is sent at once; the worker's processes set the pace.
                        celery.append(
                            one_run(store, executor, messages, tmp, args.tasks, at_once=args.tasks)
                        )
                        executor.shutdown()
                finally:
                    worker.terminate()
                    worker.wait(30)
                print(
                    f"K={concurrency}: celery {statistics.median(celery):6.1f} attempts/s "
                    f"(runs: {', '.join(f'{x:.1f}' for x in celery)}); "
                    f"local executor, {concurrency} at a time: "
                    f"{statistics.median(local):6.1f} attempts/s",
                    flush=True,
                )
                medians[f"celery K={concurrency}"] = statistics.median(celery)
                medians[f"local K={concurrency}"] = statistics.median(local)
            store.close()
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--broker", default=BROKER)
    parser.add_argument("--pg", default=PG)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4])
    measure(parser.parse_args())


if __name__ == "__main__":
    main()
