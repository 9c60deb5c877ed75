"""SQL statements per attempt (issue 15): what the engine sends to SQLite for each attempt.

    python bench/statement_bench.py

Counts every statement the store's connection runs (BEGIN and COMMIT included) with
``sqlite3.Connection.set_trace_callback`` while one run executes, for a 1 -> 200 -> 1
fan-out/fan-in of in-process Python tasks and for 200 independent ``true`` commands, and
prints statements (and commits) per attempt, with the statements grouped by kind.
"""

from __future__ import annotations

import os
import queue
import re
import tempfile
from collections import Counter
from pathlib import Path

from runner_bench import fan_job  # bench/ is on sys.path when a bench script runs

from runner.clock import utcnow
from runner.engine.engine import Engine
from runner.engine.executor import Message
from runner.executors.local.executor import LocalExecutor
from runner.model import Job, Task, Trigger
from runner.store.store import Store


def commands_job(count: int) -> Job:
    """``count`` independent ``true`` commands."""
    return Job(
        name=f"trues{count}",
        tasks={f"t{i}": Task(f"t{i}", command=("true",)) for i in range(count)},
    )


def _kind(sql: str) -> str:
    """The statement's verb and table: ``INSERT events``, ``UPDATE task_runs``, ``BEGIN``."""
    words = re.sub(r"\s+", " ", sql.strip()).split(" ")
    verb = words[0].upper()
    for keyword in ("INTO", "UPDATE", "FROM"):
        upper = [w.upper() for w in words]
        if keyword in upper[:4] or (keyword == "UPDATE" and verb == "UPDATE"):
            index = 0 if keyword == "UPDATE" else upper.index(keyword)
            return f"{verb} {words[index + 1]}"
    return verb


def count_statements(job: Job, *, workers: int = 8) -> tuple[Counter[str], int]:
    """Statements by kind while one run of ``job`` executes, and its attempt count."""
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{tmp}/bench.db")
        messages: queue.SimpleQueue[Message] = queue.SimpleQueue()
        engine = Engine(
            store, LocalExecutor(messages), messages, log_dir=Path(tmp) / "logs", workers=workers
        )
        now = utcnow()
        store.sync_jobs([job], now)
        run = store.create_run(job, now, Trigger.MANUAL, now)
        assert run is not None
        seen: Counter[str] = Counter()
        store._db._conn.set_trace_callback(lambda sql: seen.update([_kind(sql)]))
        final = engine.execute(job, run)
        store._db._conn.set_trace_callback(None)
        assert final.state.value == "success", final
        attempts = len(store.attempts(run.id))
        engine.close()
        store.close()
    return seen, attempts


def workloads() -> dict[str, Job]:
    """The two jobs measured, by the name a figure gives them."""
    return {"1 -> 200 -> 1 in-process": fan_job(200, "inprocess"), "200 true": commands_job(200)}


def per_attempt(job: Job) -> float:
    """Statements (BEGIN and COMMIT included) per attempt of one run of ``job``."""
    seen, attempts = count_statements(job)
    return sum(seen.values()) / attempts


def main() -> None:
    """Count and print."""
    print(f"nproc {os.cpu_count()}, load average {os.getloadavg()[0]:.2f}")
    for label, job in workloads().items():
        seen, attempts = count_statements(job)
        total = sum(seen.values())
        print(
            f"{label}: {total} statements for {attempts} attempts = "
            f"{total / attempts:.2f} per attempt, "
            f"{seen['COMMIT'] / attempts:.2f} commits per attempt"
        )
        for kind, n in seen.most_common():
            print(f"    {n / attempts:6.2f}  {kind}")


if __name__ == "__main__":
    main()
