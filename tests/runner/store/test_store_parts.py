"""Store is composed of parts (eventlog, jobs, runs, attempts, recovery, maintenance): each
public method of a part is a method of Store, and a Store's parts share one connection."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runner.model import Job, Task, Trigger
from runner.store.attempts import AttemptTable
from runner.store.eventlog import EventLog
from runner.store.jobs import JobTable
from runner.store.maintenance import Maintenance
from runner.store.recovery import Recovery
from runner.store.runs import RunTable
from runner.store.store import Store

# What the parts offer one another, not the store's callers.
_AMONG_PARTS = {
    "finish_run",
    "flush_task_states",
    "insert_event",
    "recording",  # Store.event_transaction
    "set_task_state_row",
    "supersede_task_state",
}


@pytest.mark.parametrize(
    "part", [EventLog, JobTable, RunTable, AttemptTable, Recovery, Maintenance]
)
def test_every_public_method_of_a_part_is_a_method_of_the_store(part: type) -> None:
    for name, method in inspect.getmembers(part, inspect.isfunction):
        if name.startswith("_") or name in _AMONG_PARTS:
            continue
        assert getattr(Store, name).__wrapped__ is method, name
        assert inspect.signature(getattr(Store, name)) == inspect.signature(method), name


def _write_then_fail(store: Store, job: Job, at: datetime) -> None:
    with store.transaction():
        store.sync_jobs([job], at)  # the jobs part
        store.create_run(job, at, Trigger.MANUAL, at)  # the runs part, and the event log
        raise RuntimeError("undo both")


def test_writes_of_several_parts_join_one_transaction(tmp_path: Path) -> None:
    at = datetime(2026, 12, 3, 7, 0, tzinfo=UTC)
    job = Job("nightly", tasks={"work": Task("work", command=("true",))})
    with Store.open(f"sqlite:///{tmp_path / 'store.db'}") as store:
        with pytest.raises(RuntimeError, match="undo both"):
            _write_then_fail(store, job, at)
        assert (store.list_jobs(), store.list_runs(), store.last_event_id()) == ([], [], 0)
        store.sync_jobs([job], at)
        store.create_run(job, at, Trigger.MANUAL, at)
        assert [r.job for r in store.list_runs()] == ["nightly"]
