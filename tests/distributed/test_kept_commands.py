"""`runwatch worker`'s look-after of the commands its dead worker processes left: real
keeper processes (runner.executors.local.keeper) on this host, a real store."""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from runner import exitstatus
from runner.clock import utcnow
from runner.executors.celery.adoption import KeptCommands
from runner.executors.local.keeper import kept
from runner.model import TaskState
from runner.processes import current, group_running, identity_of, process_start
from runner.store import leases
from runner.store.recovery import ADOPTED, ORPHANED, orphaned_outcome
from runner.store.store import Store
from tests.distributed.test_leases import dispatched


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
    """A claimed attempt whose command runs under its keeper until ``release`` exists."""

    attempt_id: int
    proc: subprocess.Popen[bytes]
    release: Path
    status: Path

    def end(self) -> int:
        """Let the command end; the keeper's exit code, once it is reaped."""
        self.release.touch()
        return self.proc.wait(30)


@pytest.fixture
def kept_attempt(store: Store, tmp_path: Path) -> Iterator[Kept]:
    _, attempt = dispatched(store)
    stdout = tmp_path / "logs" / "extract.1.stdout"
    stdout.parent.mkdir()
    status = exitstatus.status_path(stdout)
    release = tmp_path / "release"
    command = f"while [ ! -e {release} ]; do sleep 0.05; done; exit 4"
    proc = subprocess.Popen(kept(["sh", "-c", command], status), start_new_session=True)
    assert leases.claim_attempt(store, attempt.id, dead_identity(), utcnow())
    store.set_attempt_process(attempt, pid=proc.pid, pid_start=process_start(proc.pid))
    leases.record_log_paths(store, attempt.id, stdout, None)
    yield Kept(attempt.id, proc, release, status)
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


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
    assert kept_attempt.proc.wait(30) == -signal.SIGKILL
    assert not group_running(kept_attempt.proc.pid)


def test_a_stop_the_engine_asks_for_kills_the_command_and_records_the_stop(
    store: Store, kept_attempt: Kept
) -> None:
    stop = {"state": "cancelled", "reason": "run cancelled"}
    assert leases.request_stop(store, kept_attempt.attempt_id, stop) is False
    assert KeptCommands(store).run() == [kept_attempt.attempt_id]
    assert kept_attempt.proc.wait(30) == -signal.SIGKILL
    found = leases.lease(store, kept_attempt.attempt_id)
    assert found is not None
    assert found.outcome == stop


def test_the_command_of_a_live_worker_process_is_left_to_it(
    store: Store, kept_attempt: Kept
) -> None:
    with store.transaction():
        store.db.execute(
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
    assert kept_attempt.proc.wait(30) == -signal.SIGKILL
