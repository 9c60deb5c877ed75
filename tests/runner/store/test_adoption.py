"""Adoption: an attempt whose supervisor died is recorded as its keeper saw it end."""

from __future__ import annotations

import os
import queue
import socket
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runner.executors.local.keeper import KeeperClient
from runner.exitstatus import status_path
from runner.model import Job, RunState, Task, TaskState, Trigger
from runner.processes import process_start
from runner.store.records import AttemptRecord
from runner.store.recovery import ADOPTED, ORPHANED
from runner.store.store import Store
from tests.storesql import sql

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
DEAD = f"{socket.gethostname()}:{os.getpid()}:0"  # this pid, another start: a process gone


def orphaned_attempt(store: Store, logs: Path) -> AttemptRecord:
    """A running attempt (and run) whose supervisor is gone."""
    job = Job(name="nightly", tasks={"work": Task("work", command="true")})
    store.sync_jobs([job], T0)
    run = store.create_run(job, T0, Trigger.SCHEDULE, T0)
    assert run is not None
    assert store.mark_run_started(run, T0)
    attempt = store.start_attempt(run, "work", T0, log_dir=logs)
    assert attempt is not None
    with store.transaction():
        sql(store).execute("UPDATE runs SET supervisor = :s", {"s": DEAD})
        sql(store).execute("UPDATE attempts SET supervisor = :s", {"s": DEAD})
    return store.get_attempt(attempt.id)


def status_file(attempt: AttemptRecord) -> Path:
    """Where the attempt's keeper writes its exit status (its folder made)."""
    assert attempt.stdout_path is not None
    status = Path(status_path(attempt.stdout_path))
    status.parent.mkdir(parents=True, exist_ok=True)
    return status


def test_a_status_file_left_by_the_keeper_is_recorded_as_the_attempts_outcome(
    store: Store, tmp_path: Path
) -> None:
    attempt = orphaned_attempt(store, tmp_path / "logs")
    status = status_file(attempt)
    status.write_text("0 -\n")

    store.recover_orphans()

    settled = store.get_attempt(attempt.id)
    assert (settled.state, settled.exit_code, settled.reason) == (TaskState.SUCCESS, 0, ADOPTED)
    assert store.get_run(attempt.run_id).state is RunState.SUCCESS
    assert not status.exists()


def wait_for_exec(pid: int, program: bytes) -> None:
    """Wait until ``pid`` runs ``program``: Popen returns before the child's exec, and a
    process still running Python's fork is not a keeper."""
    cmdline = Path(f"/proc/{pid}/cmdline")
    deadline = time.monotonic() + 30
    while not cmdline.read_bytes().startswith(program + b"\0"):
        assert time.monotonic() < deadline, f"{pid} never ran {program!r}"
        time.sleep(0.01)


def test_an_attempt_whose_keeper_still_runs_is_left_running_until_it_ends(
    store: Store, tmp_path: Path
) -> None:
    attempt = orphaned_attempt(store, tmp_path / "logs")
    status = status_file(attempt)
    keeper = subprocess.Popen(  # a keeper's command line: perl -e SCRIPT STATUS ...
        ["perl", "-e", "sleep 30", str(status)], start_new_session=True
    )
    try:
        wait_for_exec(keeper.pid, b"perl")
        store.set_attempt_process(attempt, pid=keeper.pid, pid_start=process_start(keeper.pid))
        store.recover_orphans()
        assert store.get_attempt(attempt.id).state is TaskState.RUNNING
        assert store.get_run(attempt.run_id).state is RunState.RUNNING
    finally:
        keeper.kill()
        keeper.wait()
    status.write_text("- 9\n")

    store.recover_orphans()

    settled = store.get_attempt(attempt.id)
    assert (settled.state, settled.signal) == (TaskState.FAILED, 9)
    assert settled.reason == f"{ADOPTED}: killed by signal 9"
    assert store.get_run(attempt.run_id).state is RunState.FAILED


def test_an_attempt_whose_command_runs_under_the_shared_keeper_is_left_running_then_adopted(
    store: Store, tmp_path: Path
) -> None:
    attempt = orphaned_attempt(store, tmp_path / "logs")
    status = status_file(attempt)
    replies: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
    keeper = KeeperClient(replies.put, lambda: None)
    keeper.spawn(
        1, ["sleep", "30"], dict(os.environ), None, logs=(None, None), cap_bytes=0,
        header=b"", status=str(status), passthrough=False,
    )  # fmt: skip
    try:
        _, _, pid, start, _ = replies.get(timeout=30)
        store.set_attempt_process(attempt, pid=pid, pid_start=start)
        store.recover_orphans()
        assert store.get_attempt(attempt.id).state is TaskState.RUNNING
        keeper.stop(1, 5.0)
        assert replies.get(timeout=30)[:3] == ("ended", 1, -15)
    finally:
        keeper.close()

    store.recover_orphans()

    settled = store.get_attempt(attempt.id)
    assert (settled.state, settled.signal) == (TaskState.FAILED, 15)
    assert settled.reason == f"{ADOPTED}: killed by signal 15"


def test_an_attempt_with_neither_process_nor_status_is_failed_orphaned(
    store: Store, tmp_path: Path
) -> None:
    attempt = orphaned_attempt(store, tmp_path / "logs")

    store.recover_orphans()

    settled = store.get_attempt(attempt.id)
    assert (settled.state, settled.reason) == (TaskState.FAILED, ORPHANED)
    run = store.get_run(attempt.run_id)
    assert (run.state, run.reason) == (RunState.FAILED, ORPHANED)
