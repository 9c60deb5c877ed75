"""`runwatch worker`'s look-after of the commands its dead worker processes left: real
keeper processes (runner.executors.local.keeper) on this host, a real store."""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from runner import exitstatus
from runner.clock import utcnow
from runner.executors.celery.adoption import KeptCommands
from runner.executors.local.keeper import KeeperClient
from runner.model import TaskState
from runner.processes import current, group_running, identity_of
from runner.store import leases
from runner.store.recovery import ADOPTED, ORPHANED, orphaned_outcome
from runner.store.store import Store
from tests.distributed.test_leases import dispatched
from tests.storesql import sql


def dead_identity() -> str:
    """The identity of a process of this host that has exited and been reaped."""
    child = subprocess.Popen(["sleep", "30"])
    identity = identity_of(child.pid)
    child.kill()
    child.wait(10)
    assert identity is not None
    return identity


@dataclass
class Kept:
    """A claimed attempt whose command runs under a real keeper until ``release`` exists."""

    attempt_id: int
    pid: int
    replies: queue.SimpleQueue[tuple[Any, ...]]
    release: Path
    status: Path

    def wait(self) -> int:
        """The command's return code, as its keeper reports it (-N: killed by signal N)."""
        while True:
            reply = self.replies.get(timeout=30)
            if reply[0] == "ended":
                return int(reply[2])

    def end(self) -> int:
        """Let the command end; its return code."""
        self.release.touch()
        return self.wait()


@pytest.fixture
def kept_attempt(store: Store, tmp_path: Path) -> Iterator[Kept]:
    _, attempt = dispatched(store)
    stdout = tmp_path / "logs" / "extract.1.stdout"
    stdout.parent.mkdir()
    status = Path(exitstatus.status_path(stdout))
    release = tmp_path / "release"
    command = f"while [ ! -e {release} ]; do sleep 0.05; done; exit 4"
    replies: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
    keeper = KeeperClient(replies.put, lambda: None)
    keeper.spawn(
        1, ["sh", "-c", command], dict(os.environ), None, logs=(str(stdout), None),
        cap_bytes=1 << 20, header=b"", status=str(status), passthrough=False,
    )  # fmt: skip
    _, _, pid, start, _ = replies.get(timeout=30)
    assert leases.claim_attempt(store, attempt.id, dead_identity(), utcnow())
    store.set_attempt_process(attempt, pid=pid, pid_start=start)
    leases.record_log_paths(store, attempt.id, stdout, None)
    try:
        yield Kept(attempt.id, pid, replies, release, status)
    finally:
        if group_running(pid):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        keeper.close()


def heartbeat_of(store: Store, attempt_id: int) -> object:
    found = leases.lease(store, attempt_id)
    assert found is not None
    return found.heartbeat_at


def test_a_dead_workers_command_keeps_its_lease_while_it_runs_then_is_adopted(
    store: Store, kept_attempt: Kept
) -> None:
    before = heartbeat_of(store, kept_attempt.attempt_id)
    assert KeptCommands(store).run() == []
    found = leases.lease(store, kept_attempt.attempt_id)
    assert found is not None
    assert found.outcome is None
    assert found.heartbeat_at != before, "the lease was renewed for the running command"

    assert kept_attempt.end() == 4
    assert KeptCommands(store).run() == [kept_attempt.attempt_id]
    found = leases.lease(store, kept_attempt.attempt_id)
    assert found is not None
    assert found.outcome == {
        "state": "failed",
        "reason": f"{ADOPTED}: exit code 4",
        "exit_code": 4,
    }
    assert not kept_attempt.status.exists()


def test_a_command_whose_attempt_was_decided_elsewhere_is_killed(
    store: Store, kept_attempt: Kept
) -> None:
    assert leases.decide_outcome(
        store, kept_attempt.attempt_id, orphaned_outcome("a scheduler elsewhere")
    )
    assert KeptCommands(store).run() == []
    assert kept_attempt.wait() == -signal.SIGKILL
    assert not group_running(kept_attempt.pid)


def test_a_stop_the_engine_asks_for_kills_the_command_and_records_the_stop(
    store: Store, kept_attempt: Kept
) -> None:
    stop = {"state": "cancelled", "reason": "run cancelled"}
    assert leases.request_stop(store, kept_attempt.attempt_id, stop) is False
    assert KeptCommands(store).run() == [kept_attempt.attempt_id]
    assert kept_attempt.wait() == -signal.SIGKILL
    found = leases.lease(store, kept_attempt.attempt_id)
    assert found is not None
    assert found.outcome == stop


def test_the_command_of_a_live_worker_process_is_left_to_it(
    store: Store, kept_attempt: Kept
) -> None:
    with store.transaction():
        sql(store).execute(
            "UPDATE attempts SET supervisor = :me WHERE id = :id",
            {"me": current(), "id": kept_attempt.attempt_id},
        )
    before = heartbeat_of(store, kept_attempt.attempt_id)
    assert KeptCommands(store).run() == []
    assert heartbeat_of(store, kept_attempt.attempt_id) == before
    assert kept_attempt.end() == 4
    assert KeptCommands(store).run() == []


def test_a_command_whose_attempt_was_already_failed_orphaned_is_killed(
    store: Store, kept_attempt: Kept
) -> None:
    attempt = store.get_attempt(kept_attempt.attempt_id)
    assert store.finish_attempt(attempt, TaskState.FAILED, utcnow(), reason=ORPHANED)
    assert KeptCommands(store).run() == []
    assert kept_attempt.wait() == -signal.SIGKILL
