"""Python jobs written as the README shows run on warm workers, not a fork per attempt."""

from __future__ import annotations

import queue
import textwrap
from pathlib import Path

from runner.clock import utcnow
from runner.definitions import load_definitions
from runner.engine.engine import Engine
from runner.engine.executor import Message
from runner.executors.local.executor import LocalExecutor
from runner.model import RunState, Trigger
from runner.store.store import Store

README_STYLE = """
import os

from runner import job, task


@task
def start() -> int:
    return os.getpid()


@task
def work(_started: int) -> int:
    return os.getpid()


@task
def finish(*pids: int) -> int:
    return os.getpid()


@job
def wide():
    started = start()
    finish(*[work.with_options(name=f"work_{i}")(started) for i in range(200)])
"""


def test_a_200_task_readme_style_job_runs_on_the_pools_workers_only(tmp_path: Path) -> None:
    path = tmp_path / "wide_job.py"
    path.write_text(textwrap.dedent(README_STYLE))
    job = load_definitions([path]).jobs["wide"]
    store = Store.open(f"sqlite:///{tmp_path}/runwatch.db")
    messages: queue.SimpleQueue[Message] = queue.SimpleQueue()
    engine = Engine(
        store, LocalExecutor(messages, python_workers=2), messages, log_dir=tmp_path / "logs"
    )
    try:
        now = utcnow()
        store.sync_jobs([job], now)
        run = store.create_run(job, now, Trigger.MANUAL, now)
        assert run is not None

        final = engine.execute(job, run)

        assert final.state is RunState.SUCCESS
        pids = set(store.results(run.id).values())
        assert len(store.results(run.id)) == 202
        assert len(pids) <= 2, f"{len(pids)} worker processes ran 202 attempts"
    finally:
        engine.close()
        store.close()
