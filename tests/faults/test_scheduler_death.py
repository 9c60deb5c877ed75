"""kill -9 and SIGSTOP of real `runwatch serve` processes mid-task: per fire time one run,
one completion of the command, never two executions at once, no false failure, nothing
left running. The command's own marker file is the witness (tests/faults/harness.py)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.model import RunState, TaskState
from runner.store.recovery import ADOPTED, ORPHANED
from tests.faults.harness import (
    Fleet,
    assert_one_completion_per_fire_time,
    marked_command,
    marks,
    open_store,
    owner_pid,
    runs,
    wait_for,
    write_config,
)


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    serves = Fleet(tmp_path)
    yield serves
    serves.close()


def ended(marker: Path, logical_time: str) -> bool:
    return any(m.what == "end" and m.logical_time == logical_time for m in marks(marker))


def test_a_scheduler_killed_mid_task_leaves_its_command_to_finish_and_be_adopted_by_the_other(
    tmp_path: Path, fleet: Fleet
) -> None:
    marker = tmp_path / "marks"
    config = write_config(tmp_path, marked_command(marker, first_seconds=3), retries=1)
    pair = [fleet.start(config), fleet.start(config)]
    with open_store(tmp_path) as store:
        run, doomed = fleet.supervising(store)
        survivor = next(s for s in pair if s is not doomed)
        doomed.kill()
        lt = run.logical_time.isoformat()
        wait_for(lambda: store.get_run(run.id).state is RunState.SUCCESS, "the run's adoption")
        assert ended(marker, lt)
        later = len(runs(store))
        wait_for(lambda: len(runs(store)) > later + 1, "the survivor to go on scheduling")
        assert survivor.stop() == 0, survivor.output()
        [attempt] = store.attempts(run.id)
        assert (attempt.state, attempt.reason) == (TaskState.SUCCESS, ADOPTED)
        assert [m.what for m in marks(marker) if m.logical_time == lt] == ["start", "end"]
        assert_one_completion_per_fire_time(store, marker)


def test_a_hung_scheduler_is_taken_over_its_command_killed_first_and_records_nothing_on_resuming(
    tmp_path: Path, fleet: Fleet
) -> None:
    marker = tmp_path / "marks"
    config = write_config(tmp_path, marked_command(marker, first_seconds=60), retries=1)
    pair = [fleet.start(config), fleet.start(config)]
    with open_store(tmp_path) as store:
        run, hung = fleet.supervising(store)
        survivor = next(s for s in pair if s is not hung)
        hung.signal(signal.SIGSTOP)
        lt = run.logical_time.isoformat()
        wait_for(lambda: store.get_run(run.id).state is RunState.SUCCESS, "the takeover", 60)
        hung.signal(signal.SIGCONT)
        wait_for(lambda: "was taken over" in hung.output(), "the hung serve to see it lost the run")
        assert owner_pid(store.get_run(run.id)) == survivor.pid
        assert hung.stop() == 0, hung.output()
        assert survivor.stop() == 0, survivor.output()
        first, second = store.attempts(run.id)
        assert (first.state, first.reason) == (TaskState.FAILED, ORPHANED)
        assert second.state is TaskState.SUCCESS
        assert store.get_run(run.id).state is RunState.SUCCESS
        assert [(m.what, m.attempt) for m in marks(marker) if m.logical_time == lt] == [
            ("start", 1),
            ("start", 2),
            ("end", 2),
        ]
        assert_one_completion_per_fire_time(store, marker)


@pytest.mark.parametrize("retries", [0, 2])
def test_a_single_scheduler_killed_and_restarted_adopts_its_command_instead_of_running_it_again(
    tmp_path: Path, fleet: Fleet, retries: int
) -> None:
    marker = tmp_path / "marks"
    config = write_config(tmp_path, marked_command(marker, first_seconds=2), retries=retries)
    fleet.start(config)
    with open_store(tmp_path) as store:
        run, first = fleet.supervising(store)
        first.kill()
        second = fleet.start(config)
        wait_for(lambda: store.get_run(run.id).state is RunState.SUCCESS, "the run's adoption")
        assert second.stop() == 0, second.output()
        [attempt] = store.attempts(run.id)
        assert (attempt.state, attempt.exit_code, attempt.reason) == (
            TaskState.SUCCESS,
            0,
            ADOPTED,
        )
        assert_one_completion_per_fire_time(store, marker)


def test_a_command_that_ended_while_no_scheduler_ran_is_recorded_as_it_ended(
    tmp_path: Path, fleet: Fleet
) -> None:
    marker = tmp_path / "marks"
    command = marked_command(marker, first_seconds=1) + "; exit 4"
    config = write_config(tmp_path, command, retries=0)
    fleet.start(config)
    with open_store(tmp_path) as store:
        run, first = fleet.supervising(store)
        first.kill()
        wait_for(lambda: ended(marker, run.logical_time.isoformat()), "the command to end")
        second = fleet.start(config)
        wait_for(lambda: store.get_run(run.id).state is RunState.FAILED, "the run's adoption")
        assert second.stop() == 0, second.output()
        [attempt] = store.attempts(run.id)
        assert (attempt.state, attempt.exit_code) == (TaskState.FAILED, 4)
        assert attempt.reason == f"{ADOPTED}: exit code 4"
        lt = run.logical_time.isoformat()
        assert [m.what for m in marks(marker) if m.logical_time == lt] == ["start", "end"]


def test_output_written_after_the_scheduler_died_is_kept_and_the_attempt_adopted(
    tmp_path: Path, fleet: Fleet
) -> None:
    go = tmp_path / "go"
    command = (
        f"echo before; while [ ! -e {go} ]; do sleep 0.05; done; "
        "i=0; while [ $i -lt 500 ]; do i=$((i+1)); echo after-$i; done; echo late >&2"
    )
    config = write_config(tmp_path, command, retries=0)
    fleet.start(config)
    with open_store(tmp_path) as store:
        run, first = fleet.supervising(store)
        [attempt] = store.attempts(run.id)
        assert attempt.stdout_path is not None
        assert attempt.stderr_path is not None
        stdout, stderr = Path(attempt.stdout_path), Path(attempt.stderr_path)
        wait_for(lambda: stdout.exists() and "before" in stdout.read_text(), "the first line")
        first.kill()
        go.touch()  # only now does the command write the rest, with no serve alive
        second = fleet.start(config)
        wait_for(lambda: store.get_run(run.id).state is RunState.SUCCESS, "the run's adoption")
        assert second.stop() == 0, second.output()
        [adopted] = store.attempts(run.id)
        assert (adopted.state, adopted.exit_code, adopted.reason) == (TaskState.SUCCESS, 0, ADOPTED)
        lines = stdout.read_text().splitlines()
        assert lines == ["before", *(f"after-{i}" for i in range(1, 501))]
        assert stderr.read_text() == "late\n"
        assert adopted.finished_at is not None
        assert adopted.finished_at.timestamp() >= go.stat().st_mtime - 0.01  # its real end
