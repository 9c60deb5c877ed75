"""`runwatch backfill` cannot flood the scheduler: bounded ranges, lazy runs, clean stops."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runner.model import RunState, Trigger
from runner.store.records import RunRecord
from runner.store.store import Store
from tests.e2e.cli import clean_env

JOBS = """\
jobs:
  every-second:
    command: 'true'
    schedule: "* * * * * *"
  hourly-sleeper:
    command: 'sleep 60'
    schedule: "0 * * * *"
  flaky:
    command: 'test -e fixed && sleep 0.5'
    schedule: "0 * * * *"
"""


def _backfill(tmp_path: Path, home: Path, *args: str) -> subprocess.Popen[str]:
    (tmp_path / "jobs.yaml").write_text(JOBS)
    return subprocess.Popen(
        [sys.executable, "-m", "runner", "backfill", *args, "--jobs", "jobs.yaml"],
        cwd=tmp_path,
        env=clean_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_range_wider_than_max_runs_is_refused_without_creating_a_run(
    tmp_path: Path, home: Path
) -> None:
    # 26 years of a per-second schedule: counted up to the limit only, so this returns.
    process = _backfill(
        tmp_path, home, "every-second", "--from", "2000-01-01T00:00Z", "--to", "2026-01-01T00:00Z"
    )
    out, err = process.communicate(timeout=60)

    assert process.returncode == 2, out + err
    assert "holds more than 1000 fire times of 'every-second'" in err
    assert "--max-runs" in err
    assert not (home / "runwatch.db").exists() or _runs(home) == []


def test_max_runs_admits_a_range_of_exactly_that_many_fire_times(
    tmp_path: Path, home: Path
) -> None:
    process = _backfill(
        tmp_path,
        home,
        "every-second",
        "--from",
        "2026-01-01T00:00:00Z",
        "--to",
        "2026-01-01T00:00:04Z",
        "--max-runs",
        "5",
        "--max-active",
        "5",
    )
    out, err = process.communicate(timeout=60)

    assert process.returncode == 0, out + err
    assert [r.state for r in _runs(home)] == [RunState.SUCCESS] * 5


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_backfill_stops_creating_runs_and_leaves_nothing_queued(
    tmp_path: Path, home: Path, signum: signal.Signals
) -> None:
    process = _backfill(
        tmp_path, home, "hourly-sleeper", "--from", "2026-01-01T00:00Z", "--to", "2026-01-05T00:00Z"
    )
    deadline = time.monotonic() + 60
    while not any(r.state is RunState.RUNNING for r in _runs(home)):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the first backfill run never started"
        time.sleep(0.05)

    process.send_signal(signum)
    out, err = process.communicate(timeout=60)

    assert process.returncode == 128 + signum, out + err
    assert "96 fire times not started" in out
    (run,) = _runs(home)
    assert run.state is RunState.CANCELLED


def test_failed_manual_runs_a_backfill_reruns_do_not_hold_up_its_other_runs(
    tmp_path: Path, home: Path
) -> None:
    (tmp_path / "jobs.yaml").write_text(JOBS)
    for hour in ("00", "01"):
        at = f"2026-01-01T{hour}:00Z"
        run = subprocess.run(
            [
                sys.executable,
                "-m",
                "runner",
                "run",
                "flaky",
                "--jobs",
                "jobs.yaml",
                "--logical-time",
                at,
            ],
            cwd=tmp_path,
            env=clean_env(home),
            capture_output=True,
            check=False,
        )
        assert run.returncode == 1, run.stderr
    (tmp_path / "fixed").touch()

    process = _backfill(
        tmp_path,
        home,
        "flaky",
        "--from",
        "2026-01-01T00:00Z",
        "--to",
        "2026-01-01T01:00Z",
        "--max-active",
        "2",
    )
    out, err = process.communicate(timeout=60)

    assert process.returncode == 0, out + err
    assert "backfill waits" not in out  # its own reruns keep their trigger, not priority
    reruns = _runs(home)
    assert [(r.trigger, r.state) for r in reruns] == [(Trigger.MANUAL, RunState.SUCCESS)] * 2


def _runs(home: Path) -> list[RunRecord]:
    if not (home / "runwatch.db").exists():
        return []
    store = Store.open(f"sqlite:///{home / 'runwatch.db'}")
    try:
        return sorted(store.list_runs(limit=10_000), key=lambda r: r.logical_time)
    finally:
        store.close()
