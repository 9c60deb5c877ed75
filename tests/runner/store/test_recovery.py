"""Orphan recovery: a supervisor killed with SIGKILL leaves nothing running behind it."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runner.events import AttemptFailed, RunFailed
from runner.model import Job, RunState, Task, TaskState, Trigger
from runner.processes import process_start
from runner.store.records import AttemptRecord
from runner.store.recovery import ORPHANED, kill_leftover
from runner.store.store import Store
from tests.storesql import sql

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = Path(__file__).with_name("dying_supervisor.py")
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def process_gone(pid: int, timeout: float = 5.0) -> bool:
    """True once ``pid`` no longer runs (exited, or a zombie nobody has reaped yet)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            stat = Path(f"/proc/{pid}/stat").read_bytes()
        except FileNotFoundError:
            return True
        if stat[stat.rfind(b")") + 2 :].split()[0] in (b"Z", b"X"):
            return True
        time.sleep(0.02)
    return False


class Crash:
    """A supervisor process that recorded a running attempt, then was SIGKILLed."""

    def __init__(self, url: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.process = subprocess.Popen(
            [sys.executable, str(SCRIPT), url], stdout=subprocess.PIPE, text=True, env=env
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, "the supervisor died before starting its attempt"
        run_id, attempt_id, pid = (int(v) for v in line.split())
        self.run_id, self.attempt_id, self.task_pid = run_id, attempt_id, pid

    def kill(self, *, reap: bool) -> None:
        self.process.kill()
        if reap:
            self.process.wait(timeout=10)
        else:
            assert process_gone(self.process.pid)

    def cleanup(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        if self.process.stdout is not None:
            self.process.stdout.close()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.task_pid, signal.SIGKILL)


@pytest.fixture
def crash(db_url: str) -> Iterator[Crash]:
    started = Crash(db_url)
    yield started
    started.cleanup()


@pytest.mark.parametrize("reap", [True, False], ids=["reaped", "zombie"])
def test_opening_the_store_fails_what_a_dead_supervisor_left_running(
    db_url: str, crash: Crash, reap: bool
) -> None:
    assert not process_gone(crash.task_pid, timeout=0)
    crash.kill(reap=reap)

    with Store.open(db_url) as store:
        attempt = store.get_attempt(crash.attempt_id)
        assert (attempt.state, attempt.reason) == (TaskState.FAILED, ORPHANED)
        assert attempt.finished_at is not None
        run = store.get_run(crash.run_id)
        assert (run.state, run.reason) == (RunState.FAILED, ORPHANED)
        tasks = store.task_runs(run.id)
        assert (tasks["work"].state, tasks["after"].state) == (TaskState.FAILED, TaskState.PENDING)
        failed, run_failed = store.events_after(0)[-2:]
        assert isinstance(failed, AttemptFailed)
        assert (failed.task, failed.attempt, failed.reason) == ("work", 1, ORPHANED)
        assert failed.will_retry is False
        assert isinstance(run_failed, RunFailed)
        assert (run_failed.reason, run_failed.failed_tasks) == (ORPHANED, ["work"])

    assert process_gone(crash.task_pid), "the orphaned attempt's process group survived"


def test_an_orphan_is_recovered_once_by_concurrent_openers(db_url: str, crash: Crash) -> None:
    crash.kill(reap=True)

    with Store.open(db_url, recover=False) as one, Store.open(db_url, recover=False) as two:
        cursor = one.last_event_id()
        recovered = one.recover_orphans()
        assert [a.id for a in recovered] == [crash.attempt_id]
        assert two.recover_orphans() == []
        assert [type(e) for e in two.events_after(cursor)] == [AttemptFailed, RunFailed]


def test_a_live_supervisor_is_not_orphaned(db_url: str, store: Store) -> None:
    job = Job(name="alive", tasks={"work": Task("work", command=("true",))})
    run = store.create_run(job, T0, Trigger.MANUAL, T0)
    assert run is not None
    store.mark_run_started(run, T0)
    attempt = store.start_attempt(run, "work", T0)
    assert attempt is not None
    cursor = store.last_event_id()

    with Store.open(db_url) as other:
        assert other.recover_orphans() == []
        assert other.get_attempt(attempt.id).state is TaskState.RUNNING
        assert other.get_run(run.id).state is RunState.RUNNING
        assert other.events_after(cursor) == []


def test_supervisors_on_other_hosts_are_left_to_their_heartbeats(store: Store) -> None:
    job = Job(name="remote", tasks={"work": Task("work", command=("true",))})
    run = store.create_run(job, T0, Trigger.MANUAL, T0)
    assert run is not None
    store.mark_run_started(run, T0)
    attempt = store.start_attempt(run, "work", T0)
    assert attempt is not None
    remote = "another-host.example:4242:123456"
    sql(store).execute("UPDATE attempts SET supervisor = :s", {"s": remote})
    sql(store).execute("UPDATE runs SET supervisor = :s", {"s": remote})

    assert store.recover_orphans(T0 + timedelta(hours=1)) == []
    assert store.get_attempt(attempt.id).state is TaskState.RUNNING
    assert store.get_run(run.id).state is RunState.RUNNING


# -- kill_leftover never signals a group that cannot be the attempt's -----------------

HOST = socket.gethostname()
DEAD = f"{HOST}:{os.getpid()}:0"  # this pid with another start time: a process that is gone


def attempt_record(*, pid: int | None, ident: str) -> AttemptRecord:
    """A running attempt of ``pid``, its start recorded as an executor records it."""
    return AttemptRecord(
        id=1,
        run_id=1,
        job="k",
        task="work",
        number=1,
        state=TaskState.RUNNING,
        started_at=T0,
        finished_at=None,
        exit_code=None,
        signal=None,
        reason=None,
        error=None,
        result=None,
        stdout_path=None,
        stderr_path=None,
        pool=None,
        pid=pid,
        supervisor=ident,
        span_id=None,
        pid_start=process_start(pid) if pid is not None and pid > 0 else None,
    )


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(["sleep", "60"], start_new_session=True)
    yield process
    process.kill()
    process.wait(timeout=10)


def test_kill_leftover_kills_the_attempts_process_group(sleeper: subprocess.Popen[bytes]) -> None:
    assert kill_leftover(attempt_record(pid=sleeper.pid, ident=DEAD))
    assert sleeper.wait(timeout=5) == -signal.SIGKILL


@pytest.mark.parametrize("pid", [0, 1, -1, os.getpgrp()])
def test_kill_leftover_never_signals_init_or_its_own_group(pid: int) -> None:
    assert not kill_leftover(attempt_record(pid=pid, ident=DEAD))


def test_kill_leftover_spares_in_process_attempts_other_hosts_and_unknown_pids(
    sleeper: subprocess.Popen[bytes],
) -> None:
    in_process = f"{HOST}:{sleeper.pid}:1"  # the attempt ran inside its supervisor
    remote = f"elsewhere.example:{os.getpid()}:1"

    assert not kill_leftover(attempt_record(pid=sleeper.pid, ident=in_process))
    assert not kill_leftover(attempt_record(pid=sleeper.pid, ident=remote))
    assert not kill_leftover(attempt_record(pid=None, ident=DEAD))
    assert sleeper.poll() is None
