"""Benchmarks of the runner core (issue: runner core, B1-B3). Results go to bench/README.md.

    python bench/runner_bench.py [b1|b2|b3 ...]

B1: a 1 -> N -> 1 fan-out/fan-in job of no-op Python tasks, end to end with every
    attempt durably recorded; cost per extra task = (T(N=200) - T(N=10)) / 190, median
    of several runs; in worker processes (a module-level function, then README-style
    ``@task`` functions, which travel to the workers by reference too) and in-process.
B2: 500 independent `true` commands with 2 workers, against a plain loop of
    subprocess.run(["true"]), in this process; b2-process: the same as a user runs it,
    `runwatch run` of a YAML job with default settings against `python` running the
    loop, each a whole process.
B3: `runwatch run` of a one-task `true` job, the whole process, median of 15.
"""

from __future__ import annotations

import compileall
import os
import queue
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from stats import machine, repeat  # the sibling module: run this file as a script

from runner import job, task
from runner.clock import utcnow
from runner.engine.engine import Engine
from runner.engine.executor import Message
from runner.executors.local.executor import LocalExecutor
from runner.model import Job, Task, Trigger
from runner.store.store import Store

REPEATS = 5


def noop() -> None:
    """A task that does nothing."""


@task
def readme_noop(*_upstream: object) -> None:
    """The same, written as the README's Python job writes its tasks."""


KINDS = ("python", "readme", "inprocess", "command")
"""What a fan job's tasks are: a module-level function in worker processes, a README-style
``@task`` function in worker processes, the same function in-process, a `true` command."""


def fan_job(width: int, kind: str = "python") -> Job:
    """first -> width parallel tasks -> last, of the given ``kind`` (one of ``KINDS``)."""
    if kind == "readme":
        return _readme_fan_job(width)

    def one(name: str, after: tuple[str, ...] = ()) -> Task:
        if kind == "command":
            return Task(name, command=("true",), after=after)
        return Task(name, python=noop, after=after, in_process=kind == "inprocess")

    middle = tuple(f"t{i}" for i in range(width))
    tasks = {"first": one("first")}
    tasks.update({name: one(name, ("first",)) for name in middle})
    tasks["last"] = one("last", middle)
    return Job(name=f"fan{width}", tasks=tasks)


def _readme_fan_job(width: int) -> Job:
    @job(name=f"readme{width}")
    def wide() -> None:
        first = readme_noop.with_options(name="first")()
        middle = [readme_noop.with_options(name=f"t{i}")(first) for i in range(width)]
        readme_noop.with_options(name="last")(*middle)

    return wide


@contextmanager
def fresh_engine(workers: int) -> Iterator[tuple[Store, Engine]]:
    """An engine with the local executor on a fresh SQLite store in a temporary folder;
    both closed at the end."""
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
        try:
            yield store, engine
        finally:
            engine.close()
            store.close()


def time_job(job: Job, *, workers: int) -> float:
    """Seconds to execute one run of ``job`` in a fresh store, engine warm-up included."""
    with fresh_engine(workers) as (store, engine):
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
    return elapsed


def b1_per_task_ms(kind: str = "python") -> float:
    """B1, one sample: (T(200) - T(10)) / 190 in milliseconds, tasks of ``kind``."""
    small = time_job(fan_job(10, kind), workers=2)
    large = time_job(fan_job(200, kind), workers=2)
    return (large - small) / 190 * 1000


def b2_percent(count: int = 500) -> float:
    """B2, one sample: runwatch's throughput of ``count`` `true` commands (2 workers) as a
    percentage of a plain subprocess.run loop's, the two measured back to back."""
    started = time.perf_counter()
    for _ in range(count):
        subprocess.run(["true"], check=True)
    plain = count / (time.perf_counter() - started)
    job = Job(name="trues", tasks={f"t{i}": Task(f"t{i}", command=("true",)) for i in range(count)})
    ours = count / time_job(job, workers=2)
    return ours / plain * 100


def _as_installed(home: str) -> dict[str, str]:
    """The environment of a `runwatch` process as after `pip install` (bytecode compiled
    and written), its home (store, logs) in ``home``."""
    root = Path(__file__).resolve().parent.parent
    for package in ("runner", "alerting", "dashboards"):
        compileall.compile_dir(root / package, quiet=1)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["RUNWATCH_HOME"] = home
    return env


def b3_ms() -> float:
    """B3, one sample: milliseconds of one `runwatch run` of a one-task `true` job, the whole
    process, after an unmeasured first run has created the store."""
    with tempfile.TemporaryDirectory() as tmp:
        jobs = Path(tmp) / "jobs.yaml"
        jobs.write_text('jobs:\n  one:\n    command: ["true"]\n')
        env = _as_installed(tmp)
        cmd = [sys.executable, "-m", "runner", "run", "one", "--jobs", str(jobs)]
        subprocess.run(cmd, env=env, check=True, capture_output=True)  # creates the store
        started = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        return (time.perf_counter() - started) * 1000


PLAIN_LOOP = "import subprocess\nfor _ in range({count}):\n    subprocess.run(['true'])\n"
"""The plain loop B2 compares with, as a whole process of its own."""


def b2_process_percent(count: int = 500) -> float:
    """B2 as a user runs it, one sample: the throughput of `runwatch run` of a YAML job of
    ``count`` independent `true` commands (default settings: 8 workers, SQLite), the whole
    process, as a percentage of a whole `python` process running the plain subprocess.run
    loop; the two timed back to back, after an unmeasured run has created the store."""
    with tempfile.TemporaryDirectory() as tmp:
        jobs = Path(tmp) / "jobs.yaml"
        tasks = "".join(f'      t{i}:\n        command: ["true"]\n' for i in range(count))
        jobs.write_text(f"jobs:\n  trues:\n    tasks:\n{tasks}")
        env = _as_installed(tmp)
        ours = [sys.executable, "-m", "runner", "run", "trues", "--jobs", str(jobs)]
        plain = [sys.executable, "-c", PLAIN_LOOP.format(count=count)]
        subprocess.run(ours, env=env, check=True, capture_output=True)  # creates the store
        seconds = []
        for cmd in (plain, ours):
            started = time.perf_counter()
            subprocess.run(cmd, env=env, check=True, capture_output=True)
            seconds.append(time.perf_counter() - started)
        return seconds[0] / seconds[1] * 100


def main(argv: list[str]) -> None:
    """Print min / median / max of the chosen figures (default: all)."""
    figures: dict[str, list[tuple[str, Callable[[], float], int]]] = {
        "b1": [
            ("B1 worker processes, ms per extra task", b1_per_task_ms, REPEATS),
            ("B1 README-style @task, worker processes", lambda: b1_per_task_ms("readme"), REPEATS),
            ("B1 in-process, ms per extra task", lambda: b1_per_task_ms("inprocess"), REPEATS),
        ],
        "b2": [("B2 % of the plain subprocess loop", b2_percent, 3)],
        "b2-process": [("B2 whole process, % of the plain loop's", b2_process_percent, 5)],
        "b3": [("B3 ms, one-task `runwatch run`", b3_ms, 15)],
    }
    print(machine())
    for name in argv or list(figures):
        for label, sample, repeats in figures[name]:
            summary = repeat(sample, repeats)
            print(f"{label}: {summary.spread()} (min/median/max of {repeats}), {summary.load()}")


if __name__ == "__main__":
    main(sys.argv[1:])
