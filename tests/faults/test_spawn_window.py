"""kill -9 of a real `runwatch serve` in the window between asking its keeper to spawn an
attempt's command and recording the command's pid in the store.

The window is held open, deterministically, with signals: the serve's keeper is stopped
(SIGSTOP) before the run is triggered, so the spawn request waits in the keeper's socket
(seen with `ss`), then the serve is stopped too and the keeper let go. The keeper spawns
the command and writes its pid in the status file; the stopped serve cannot record the
pid. Then the serve is killed and a new one started. The command's marker file is the witness
(tests/faults/harness.py).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner import exitstatus, processes
from runner.model import RunState, TaskState
from runner.store.records import AttemptRecord
from runner.store.recovery import ADOPTED, ORPHANED
from runner.store.store import Store
from tests.e2e.cli import clean_env
from tests.faults.harness import (
    Fleet,
    Serve,
    assert_one_completion_per_fire_time,
    marked_command,
    marks,
    open_store,
    runs,
    wait_for,
)

pytestmark = pytest.mark.skipif(shutil.which("ss") is None, reason="needs ss (iproute2)")


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    serves = Fleet(tmp_path)
    yield serves
    serves.close()


@pytest.fixture
def go(tmp_path: Path) -> Iterator[Path]:
    """The file a first attempt waits for: there at first (the first run ends at once),
    and again at teardown, so that no command outlives a failed test; stopped keepers are
    let go then too."""
    path = tmp_path / "go"
    path.touch()
    yield path
    path.touch()
    for pid in STOPPED:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)
    STOPPED.clear()


STOPPED: list[int] = []
"""Keepers a test stopped."""


def manual_config(tmp_path: Path, command: str, *, retries: int) -> Path:
    """A job without a schedule (it runs when triggered) running ``command``."""
    quoted = command.replace("'", "''")
    config = tmp_path / "runwatch.yaml"
    config.write_text(
        "server:\n  heartbeat_interval: 1s\njobs:\n  marked:\n"
        f"    retries: {retries}\n    retry_delay: 100ms\n    command: '{quoted}'\n"
    )
    return config


def trigger(tmp_path: Path, config: Path) -> None:
    argv = [sys.executable, "-m", "runner", "trigger", "marked", "--config", str(config)]
    env = clean_env(tmp_path / "home")
    done = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr


def keeper_of(serve: Serve) -> int:
    """The pid of the serve's keeper (its child running the keeper module)."""
    module = processes.KEEPER_MODULE.encode()
    for pid in (int(name) for name in os.listdir("/proc") if name.isdigit()):
        if processes.parent_of(pid) == serve.pid and module in b" ".join(
            processes.command_line(pid)
        ):
            return pid
    raise AssertionError(f"serve {serve.pid} has no keeper")


def request_waiting(keeper: int) -> bool:
    """True once a message waits, unread, in the keeper's socket to its serve."""
    listed = subprocess.run(["ss", "-xpn"], capture_output=True, text=True, check=True).stdout
    for line in listed.splitlines():
        fields = line.split()
        if fields and fields[0] == "u_seq" and re.search(rf"pid={keeper},", line):
            return int(fields[2]) > 0
    return False


def new_attempt(store: Store, after: int) -> AttemptRecord | None:
    """The attempt of the run after run ``after``, once the serve has recorded it."""
    for run in runs(store):
        if run.id > after:
            found = store.attempts(run.id)
            return found[0] if found else None
    return None


def judged(store: Store, attempt: AttemptRecord) -> bool:
    """True once recovery has found the attempt's process (and recorded it), or ended it."""
    found = store.get_attempt(attempt.id)
    return found.pid is not None or found.state is not TaskState.RUNNING


def ask_for_a_spawn_and_hold_it(
    tmp_path: Path, config: Path, serve: Serve, store: Store, *, hold: Path | None = None
) -> tuple[int, AttemptRecord]:
    """Once a first run has succeeded (and ``hold`` is removed, so that the command waits
    for it again): stop the serve's keeper, trigger a run and wait until its spawn
    request waits in the keeper's socket. The keeper's pid and the attempt, recorded
    without a pid."""
    trigger(tmp_path, config)
    wait_for(lambda: [r.state for r in runs(store)] == [RunState.SUCCESS], "the first run")
    if hold is not None:
        hold.unlink()
    keeper = keeper_of(serve)
    STOPPED.append(keeper)
    os.kill(keeper, signal.SIGSTOP)
    first = runs(store)[0].id
    trigger(tmp_path, config)
    wait_for(lambda: new_attempt(store, first) is not None, "the second run's attempt")
    wait_for(lambda: request_waiting(keeper), "the spawn request to wait in the keeper's socket")
    attempt = new_attempt(store, first)
    assert attempt is not None
    assert attempt.stdout_path is not None
    return keeper, attempt


def test_a_serve_killed_before_recording_its_commands_pid_has_the_command_adopted_not_rerun(
    tmp_path: Path, fleet: Fleet, go: Path
) -> None:
    marker = tmp_path / "marks"
    config = manual_config(tmp_path, marked_command(marker, hold=go), retries=1)
    serve = fleet.start(config)
    with open_store(tmp_path) as store:
        keeper, attempt = ask_for_a_spawn_and_hold_it(tmp_path, config, serve, store, hold=go)
        serve.signal(signal.SIGSTOP)  # it can no longer hear of the spawn, nor record it
        os.kill(keeper, signal.SIGCONT)
        status_file = Path(exitstatus.status_path(attempt.stdout_path or ""))
        wait_for(
            lambda: (
                (found := exitstatus.read_spawn(status_file)) is not None and not found.spawning
            ),
            "the keeper to write the command's pid",
        )
        wait_for(lambda: any(m.what == "start" for m in marks(marker)[2:]), "the command")
        assert store.get_attempt(attempt.id).pid is None  # the window: spawned, not recorded
        serve.kill()
        fleet.start(config)
        wait_for(lambda: judged(store, attempt), "the new serve to judge the attempt")
        go.touch()
        wait_for(lambda: store.get_run(attempt.run_id).state.finished, "the adopted run's end")
        [adopted] = store.attempts(attempt.run_id)
        assert (adopted.state, adopted.exit_code, adopted.reason) == (TaskState.SUCCESS, 0, ADOPTED)
        assert store.get_run(attempt.run_id).state is RunState.SUCCESS
        lt = store.get_run(attempt.run_id).logical_time.isoformat()
        assert [m.what for m in marks(marker) if m.logical_time == lt] == ["start", "end"]
        assert_one_completion_per_fire_time(store, marker)
        assert not status_file.exists()


def test_a_spawn_asked_for_by_a_serve_that_died_is_never_started_and_the_attempt_retried(
    tmp_path: Path, fleet: Fleet, go: Path
) -> None:
    marker = tmp_path / "marks"
    config = manual_config(tmp_path, marked_command(marker, hold=go), retries=1)
    serve = fleet.start(config)
    with open_store(tmp_path) as store:
        keeper, attempt = ask_for_a_spawn_and_hold_it(tmp_path, config, serve, store)
        serve.kill()
        fleet.start(config)
        # No status file: nothing was started, so the attempt is retried.
        wait_for(lambda: store.get_run(attempt.run_id).state.finished, "the retried run's end")
        assert store.get_run(attempt.run_id).state is RunState.SUCCESS
        first, second = store.attempts(attempt.run_id)
        assert (first.state, first.reason) == (TaskState.FAILED, ORPHANED)
        assert (second.state, second.exit_code) == (TaskState.SUCCESS, 0)
        # Only now does the old keeper read the request of its dead serve: it refuses it.
        os.kill(keeper, signal.SIGCONT)
        wait_for(lambda: processes.process_start(keeper) is None, "the old keeper to exit")
        lt = store.get_run(attempt.run_id).logical_time.isoformat()
        assert [(m.what, m.attempt) for m in marks(marker) if m.logical_time == lt] == [
            ("start", 2),
            ("end", 2),
        ]
        assert not Path(exitstatus.status_path(attempt.stdout_path or "")).exists()
        assert_one_completion_per_fire_time(store, marker)
