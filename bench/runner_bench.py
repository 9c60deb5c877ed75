"""Benchmarks of the runner core (issue: runner core, B1-B3). Results go to bench/README.md.

    python bench/runner_bench.py [b1|b2|b3 ...]

B1: a 1 -> N -> 1 fan-out/fan-in job of no-op Python tasks, end to end with every
    attempt durably recorded; cost per extra task = (T(N=200) - T(N=10)) / 190, median
    of several runs; in worker processes (default) and in-process.
B2: 500 independent `true` commands with 2 workers, against a plain loop of
    subprocess.run(["true"]).
B3: `runwatch run` of a one-task `true` job, the whole process, median of 15.
"""

from __future__ import annotations

import compileall
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from runner.clock import utcnow
from runner.engine.engine import Engine
from runner.engine.executor import Message
from runner.engine.local import LocalExecutor
from runner.model import Job, Task, Trigger
from runner.store.store import Store

REPEATS = 5


def noop() -> None:
    """A task that does nothing."""


def fan_job(width: int, *, in_process: bool) -> Job:
    """first -> width parallel tasks -> last."""
    tasks = {"first": Task("first", python=noop, in_process=in_process)}
    for i in range(width):
        tasks[f"t{i}"] = Task(f"t{i}", python=noop, after=("first",), in_process=in_process)
    tasks["last"] = Task(
        "last", python=noop, after=tuple(f"t{i}" for i in range(width)), in_process=in_process
    )
    return Job(name=f"fan{width}", tasks=tasks)


def time_job(job: Job, *, workers: int) -> float:
    """Seconds to execute one run of ``job`` in a fresh store, engine warm-up included."""
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{tmp}/bench.db")
        messages: queue.SimpleQueue[Message] = queue.SimpleQueue()
        engine = Engine(
            store,
            LocalExecutor(messages, python_workers=workers),
            messages,
            log_dir=Path(tmp) / "logs",
            workers=workers,
        )
        now = utcnow()
        store.sync_jobs([job], now)
        run = store.create_run(job, now, Trigger.MANUAL, now)
        assert run is not None
        # Warm the worker pool, as a long-running process would have it.
        warm = Job(name="warm", tasks={f"w{i}": Task(f"w{i}", python=noop) for i in range(workers)})
        warm_run = store.create_run(warm, now, Trigger.MANUAL, now)
        assert warm_run is not None
        engine.execute(warm, warm_run)
        started = time.perf_counter()
        final = engine.execute(job, run)
        elapsed = time.perf_counter() - started
        assert final.state.value == "success", final
        engine.close()
        store.close()
    return elapsed


def b1() -> None:
    """Cost per extra task in a fan-out/fan-in job."""
    for in_process in (False, True):
        small = [time_job(fan_job(10, in_process=in_process), workers=2) for _ in range(REPEATS)]
        large = [time_job(fan_job(200, in_process=in_process), workers=2) for _ in range(REPEATS)]
        per_task = (statistics.median(large) - statistics.median(small)) / 190 * 1000
        mode = "in-process" if in_process else "worker processes"
        print(
            f"B1 {mode}: N=10 {statistics.median(small) * 1000:.1f} ms, "
            f"N=200 {statistics.median(large) * 1000:.1f} ms, "
            f"per extra task {per_task:.2f} ms"
        )


def b2() -> None:
    """Throughput of 500 `true` commands with 2 workers vs a plain subprocess loop."""
    count = 500
    started = time.perf_counter()
    for _ in range(count):
        subprocess.run(["true"], check=True)
    plain = count / (time.perf_counter() - started)
    job = Job(name="trues", tasks={f"t{i}": Task(f"t{i}", command=("true",)) for i in range(count)})
    runs = [time_job(job, workers=2) for _ in range(3)]
    ours = count / statistics.median(runs)
    print(
        f"B2: plain loop {plain:.0f} tasks/s, runwatch (2 workers) {ours:.0f} tasks/s "
        f"= {ours / plain * 100:.0f}% of the plain loop"
    )


def b3() -> None:
    """Whole-process time of `runwatch run` for a one-task `true` job."""
    with tempfile.TemporaryDirectory() as tmp:
        jobs = Path(tmp) / "jobs.yaml"
        jobs.write_text('jobs:\n  one:\n    command: ["true"]\n')
        # As after `pip install`: bytecode compiled and written.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["RUNWATCH_HOME"] = tmp
        root = Path(__file__).resolve().parent.parent
        for package in ("runner", "alerting", "dashboards"):
            compileall.compile_dir(root / package, quiet=1)
        cmd = [sys.executable, "-m", "runner", "run", "one", "--jobs", str(jobs)]
        subprocess.run(cmd, env=env, check=True, capture_output=True)  # creates the store
        times = []
        for _ in range(15):
            started = time.perf_counter()
            subprocess.run(cmd, env=env, check=True, capture_output=True)
            times.append(time.perf_counter() - started)
    print(
        f"B3: runwatch run (one `true` task): median {statistics.median(times) * 1000:.0f} ms, "
        f"min {min(times) * 1000:.0f} ms, max {max(times) * 1000:.0f} ms"
    )


if __name__ == "__main__":
    wanted = sys.argv[1:] or ["b1", "b2", "b3"]
    for name in wanted:
        {"b1": b1, "b2": b2, "b3": b3}[name]()
