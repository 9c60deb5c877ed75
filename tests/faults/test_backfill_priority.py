"""A backfill never starves the job's scheduled runs: with a real `runwatch serve`
scheduling the job every 2 s and a real `runwatch backfill` of the same job, the fire
times that come while backfill runs go are not skipped: their runs start before the
backfill's next ones."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.model import RunState, Trigger
from tests.e2e.cli import clean_env
from tests.faults.harness import Fleet, open_store, runs

CONFIG = """\
server:
  heartbeat_interval: 1s
jobs:
  etl:
    schedule: '* * * * * */2'
    command: 'sleep 1'
"""


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    serves = Fleet(tmp_path)
    yield serves
    serves.close()


def test_scheduled_runs_start_ahead_of_the_backfill_runs_still_to_come(
    tmp_path: Path, fleet: Fleet
) -> None:
    config = tmp_path / "runwatch.yaml"
    config.write_text(CONFIG)
    serve = fleet.start(config)
    span = ["--from", "2026-01-01T00:00:00Z", "--to", "2026-01-01T00:00:10Z"]
    backfill = subprocess.run(
        [sys.executable, "-m", "runner", "backfill", "etl", "--config", str(config), *span],
        check=False,
        cwd=tmp_path,
        env=clean_env(tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert backfill.returncode == 0, backfill.stdout + backfill.stderr
    assert "backfill waits: schedule run" in backfill.stdout
    assert serve.stop() == 0, serve.output()

    with open_store(tmp_path) as store:
        found = runs(store)
    filled = [r for r in found if r.trigger is Trigger.BACKFILL]
    assert [r.state for r in filled] == [RunState.SUCCESS] * 6
    starts = sorted(r.started_at for r in filled if r.started_at is not None)
    went_first = [
        r
        for r in found
        if r.trigger is Trigger.SCHEDULE
        and r.started_at is not None
        and starts[0] < r.logical_time
        and r.started_at < starts[-1]
    ]
    assert went_first, "no scheduled run fired and started while the backfill went on"
    assert all(r.state is RunState.SUCCESS for r in went_first)
