"""A job with an out-of-range duration beside a healthy job under a real `runwatch serve`:
the bad job's runs fail with the key in their reason, the healthy job keeps running, and
serve does not exit, also when the bad job arrives by a reload after serve started.

The bad jobs are ``runner.model.Job`` values built in a Python job file: `check` refuses
them, but serve loads them without the loaders' checks. Their bad durations used to
raise in a later engine turn (a downstream task's timeout, a retry's delay), and serve
exited 70 at every fire time of the job; a schedule that cannot run made serve exit 70
at start."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.model import RunState, Trigger
from runner.store.records import RunRecord
from runner.store.store import Store
from tests.faults.harness import Fleet, Serve, open_store, runs, wait_for

WAIT = 120.0
"""Generous: the CI machine is a loaded 2-core box."""

CONFIG = """\
server:
  heartbeat_interval: 1s
  watch_interval: 1s
jobs: [jobs.yaml, bad.py]
"""

HEALTHY = """\
jobs:
  healthy:
    schedule: '* * * * * */2'
    command: 'true'
"""

BAD_JOB = """\
from runner.model import Job, Task

bad = Job(
    name="bad",
    schedule="* * * * * */2",
    tasks={
        "first": Task("first", command="true"),
        "second": Task("second", command="true", after=("first",), timeout=float("inf")),
    },
)

never = Job(name="never", schedule="61 * * * *", tasks={"t": Task("t", command="true")})
"""

WORSE_JOB = """
worse = Job(
    name="worse",
    schedule="* * * * * */2",
    tasks={"flaky": Task("flaky", command="false", retries=1, retry_delay=float("nan"))},
)
"""


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    serves = Fleet(tmp_path)
    yield serves
    serves.close()


def test_a_job_with_an_out_of_range_duration_fails_its_runs_and_the_others_run_on(
    tmp_path: Path, fleet: Fleet
) -> None:
    (tmp_path / "jobs.yaml").write_text(HEALTHY)
    (tmp_path / "bad.py").write_text(BAD_JOB)
    config = tmp_path / "runwatch.yaml"
    config.write_text(CONFIG)
    serve = fleet.start(config)
    with open_store(tmp_path) as store:
        wait_for(lambda: serve.serving() and _failed(store, "bad"), "a bad run to fail", WAIT)
        _healthy_runs_after(serve, store, _failed(store, "bad")[0])
        assert _failed(store, "bad")[0].reason == (
            f"runwatch could not start the run: {tmp_path / 'bad.py'}: job 'bad', "
            "task 'second', key 'timeout': a duration can be at most 3650d (ten years), got inf"
        )

        # Edited while serve runs, without `runwatch check`: serve reloads it by itself.
        bad_file = tmp_path / "bad.py"
        bad_file.write_text(BAD_JOB + WORSE_JOB)
        stat = bad_file.stat()
        os.utime(bad_file, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
        wait_for(lambda: serve.serving() and _failed(store, "worse"), "a reloaded fail", WAIT)
        _healthy_runs_after(serve, store, _failed(store, "worse")[0])
        assert "job 'worse', task 'flaky', key 'retry_delay': expected a duration" in (
            _failed(store, "worse")[0].reason or ""
        )
        assert store.attempts(_failed(store, "worse")[0].id) == []

        assert "reloaded 4 jobs" in serve.output()
        assert "job never is not scheduled: " in serve.output()
        assert not [r for r in runs(store) if r.job == "never"]
        assert serve.stop() == 0, serve.output()
        assert "Traceback" not in serve.output()


def _failed(store: Store, job: str) -> list[RunRecord]:
    return [r for r in runs(store) if r.job == job and r.state is RunState.FAILED]


def _healthy_runs_after(serve: Serve, store: Store, failed: RunRecord) -> None:
    """Wait until two runs of the healthy job fired after ``failed`` succeeded; fail at once
    if serve exits."""

    def two_later_successes() -> bool:
        serve.serving()
        later = [
            r
            for r in runs(store)
            if r.job == "healthy"
            and r.trigger is Trigger.SCHEDULE
            and r.state is RunState.SUCCESS
            and r.logical_time > failed.logical_time
        ]
        return len(later) >= 2

    wait_for(two_later_successes, "the healthy job to go on running", WAIT)
