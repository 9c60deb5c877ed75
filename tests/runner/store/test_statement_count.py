"""How many SQL statements the engine sends per attempt (a count, never a time)."""

from __future__ import annotations

import queue
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.clock import utcnow
from runner.engine.engine import Engine
from runner.engine.executor import Message
from runner.executors.local.executor import LocalExecutor
from runner.model import Job, Task, Trigger
from runner.store.store import Store
from tests.storesql import sql


def noop() -> None:
    """A task that does nothing."""


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    store = Store.open(f"sqlite:///{tmp_path / 'runwatch.db'}")
    yield store
    store.close()


def kind(sql: str) -> str:
    """``INSERT events``, ``UPDATE task_runs``, ``SELECT``, ``BEGIN`` …"""
    words = sql.split()
    verb = words[0].upper()
    if verb == "INSERT":
        return f"INSERT {words[2]}"
    if verb == "UPDATE":
        return f"UPDATE {words[1]}"
    return verb


def statements_of_one_run(store: Store, job: Job, log_dir: Path) -> tuple[Counter[str], int]:
    """Statements by kind while the engine executes one run, and its attempts."""
    messages: queue.SimpleQueue[Message] = queue.SimpleQueue()
    engine = Engine(store, LocalExecutor(messages), messages, log_dir=log_dir)
    now = utcnow()
    store.sync_jobs([job], now)
    run = store.create_run(job, now, Trigger.MANUAL, now)
    assert run is not None
    seen: Counter[str] = Counter()
    sql(store)._conn.set_trace_callback(lambda sql: seen.update([kind(sql)]))
    try:
        final = engine.execute(job, run)
    finally:
        sql(store)._conn.set_trace_callback(None)
        engine.close()
    assert final.state.value == "success"
    return seen, len(store.attempts(run.id))


def assert_attempts_cost_at_most_four_row_writes(seen: Counter[str], attempts: int) -> None:
    """Per attempt: its row, its task row when it starts, its end (and its pid) — no
    savepoint, no read-back; the task rows of the attempts that ended in a turn and the
    turn's events go in one statement each per turn, and turns vary with timing."""
    assert seen["INSERT attempts"] == attempts, seen
    assert seen["UPDATE task_runs"] <= attempts + seen["COMMIT"], seen
    assert seen["UPDATE attempts"] <= 2 * attempts, seen
    assert seen["INSERT events"] <= seen["COMMIT"], seen
    assert seen["SAVEPOINT"] == 0, seen
    assert seen["SELECT"] <= 8, seen  # per run, not per attempt


def test_a_fan_out_writes_each_attempt_with_at_most_four_row_statements(
    sqlite_store: Store, tmp_path: Path
) -> None:
    tasks = {"first": Task("first", python=noop, in_process=True)}
    for i in range(40):
        tasks[f"t{i}"] = Task(f"t{i}", python=noop, after=("first",), in_process=True)
    tasks["last"] = Task("last", python=noop, after=tuple(tasks)[1:], in_process=True)
    seen, attempts = statements_of_one_run(sqlite_store, Job(name="fan", tasks=tasks), tmp_path)
    assert attempts == 42
    assert_attempts_cost_at_most_four_row_writes(seen, attempts)


def test_independent_commands_write_each_attempt_with_at_most_four_row_statements(
    sqlite_store: Store, tmp_path: Path
) -> None:
    job = Job(name="trues", tasks={f"t{i}": Task(f"t{i}", command=("true",)) for i in range(30)})
    seen, attempts = statements_of_one_run(sqlite_store, job, tmp_path)
    assert attempts == 30
    assert_attempts_cost_at_most_four_row_writes(seen, attempts)
