"""Sensors: pokes as events, no attempt or worker between them, timeouts, and restarts."""

from __future__ import annotations

import http.server
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from runner.engine.engine import tasks_to_resume
from runner.events import AttemptStarted, TaskPoked, TaskSkipped
from runner.model import (
    Job,
    OnTimeout,
    RunState,
    Sensor,
    SensorKind,
    Task,
    TaskState,
    Trigger,
)
from runner.store.records import RunRecord
from tests.runner.engine.conftest import Harness, job, open_harness, sh

FAST = {"interval": 0.05, "timeout": 60.0}


class SteppingClock:
    """A fixed clock that moves ``step`` on every reading: hours of waiting in a moment."""

    def __init__(self, step: timedelta) -> None:
        self.now = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
        self.step = step

    def __call__(self) -> datetime:
        self.now += self.step
        return self.now


@pytest.fixture
def stepping(tmp_path: Path) -> Iterator[Harness]:
    # Each reading moves past the next poke: the engine never blocks on a timer.
    opened = open_harness(tmp_path, SteppingClock(timedelta(seconds=120)))
    yield opened
    opened.engine.close()
    opened.store.close()


def waits(kind: SensorKind, target: object, **options: object) -> Task:
    return Task("wait", sensor=Sensor(kind=kind, target=target, **{**FAST, **options}))  # type: ignore[arg-type]


def pokes(harness: Harness, run: RunRecord) -> list[TaskPoked]:
    return [
        e for e in harness.store.events_after(0) if isinstance(e, TaskPoked) and e.run_id == run.id
    ]


def test_a_file_sensor_waits_for_its_glob_and_each_poke_is_an_event(harness: Harness) -> None:
    day = datetime.now(UTC).date().isoformat()
    folder = harness.tmp / "in" / day
    run = harness.run(
        job(
            waits(SensorKind.FILE, str(harness.tmp / "in" / "{{ds}}" / "*.csv")),
            sh("drop", f"sleep 0.3; mkdir -p {folder}; touch {folder}/orders.csv"),
            sh("load", "true", after=("wait",)),
        )
    )
    assert run.state is RunState.SUCCESS
    assert harness.states(run)["wait"] is TaskState.SUCCESS
    seen = pokes(harness, run)
    assert len(seen) >= 2
    assert [p.ready for p in seen] == [False] * (len(seen) - 1) + [True]
    assert f"nothing matches {harness.tmp}/in/{day}/*.csv" == seen[0].detail
    assert harness.attempts(run, "wait") == []  # pokes are not attempts: no worker, no slot
    started = [e.task for e in harness.store.events_after(0) if isinstance(e, AttemptStarted)]
    assert "wait" not in started


@pytest.mark.parametrize(
    ("on_timeout", "run_state", "wait_state", "load_state"),
    [
        (OnTimeout.FAIL, RunState.FAILED, TaskState.FAILED, TaskState.UPSTREAM_FAILED),
        (OnTimeout.SKIP, RunState.SUCCESS, TaskState.SKIPPED, TaskState.SKIPPED),
    ],
)
def test_a_sensor_that_times_out_fails_or_skips(
    stepping: Harness,
    on_timeout: OnTimeout,
    run_state: RunState,
    wait_state: TaskState,
    load_state: TaskState,
) -> None:
    never = waits(
        SensorKind.FILE,
        str(stepping.tmp / "never" / "*.csv"),
        interval=60.0,
        timeout=6 * 3600.0,
        on_timeout=on_timeout,
    )
    run = stepping.run(job(never, sh("load", "true", after=("wait",))))
    assert run.state is run_state
    states = stepping.states(run)
    assert (states["wait"], states["load"]) == (wait_state, load_state)
    assert len(pokes(stepping, run)) >= 10  # six hours of pokes, in a moment
    if on_timeout is OnTimeout.FAIL:
        (attempt,) = stepping.attempts(run, "wait")
        assert attempt.reason == "sensor timed out"
        assert "timed out after 21600s" in (attempt.error or "")
    else:
        reasons = {
            e.task: e.reason for e in stepping.store.events_after(0) if isinstance(e, TaskSkipped)
        }
        assert reasons["wait"] == "sensor timed out"


class _Flaky(http.server.BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        self.send_response(200 if type(self).hits >= 3 else 503)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        return


def test_an_http_sensor_waits_for_the_status(harness: Harness) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/ready/{{{{ds}}}}"
        run = harness.run(job(waits(SensorKind.HTTP, url)))
    finally:
        server.shutdown()
        server.server_close()
    assert run.state is RunState.SUCCESS
    assert [p.detail for p in pokes(harness, run)] == ["HTTP 503", "HTTP 503", "HTTP 200"]


def test_a_command_sensor_renders_argv_but_never_a_shell_string(harness: Harness) -> None:
    flag = harness.tmp / "ready"
    day = datetime.now(UTC).date().isoformat()
    seen = harness.tmp / "seen"
    run = harness.run(
        job(
            waits(SensorKind.COMMAND, ("test", "-e", f"{flag}.{{{{ds}}}}")),
            sh("drop", f"sleep 0.2; touch {flag}.{day}"),
            Task(
                "shell",
                sensor=Sensor(
                    kind=SensorKind.COMMAND,
                    target='echo "{{ds}} $RUNWATCH_DS $RUNWATCH_PARAM_REGION" > ' + str(seen),
                    **FAST,  # type: ignore[arg-type]
                ),
            ),
        ),
        params={"region": "eu; rm -rf /"},
    )
    assert run.state is RunState.SUCCESS
    assert seen.read_text().strip() == f"{{{{ds}}}} {day} eu; rm -rf /"


CALLS: list[int] = []


def third_time_lucky() -> bool:
    CALLS.append(1)
    return len(CALLS) >= 3


def test_a_python_sensor_waits_for_a_true_return(harness: Harness) -> None:
    CALLS.clear()
    run = harness.run(job(waits(SensorKind.PYTHON, third_time_lucky)))
    assert run.state is RunState.SUCCESS
    assert len(pokes(harness, run)) == 3


def test_an_sql_sensor_binds_the_template_values(harness: Harness) -> None:
    path = harness.tmp / "warehouse.db"
    day = datetime.now(UTC).date().isoformat()
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE loads (day TEXT)")
        db.execute("INSERT INTO loads VALUES (?)", (day,))
    query = "SELECT 1 FROM loads WHERE day = :ds"
    run = harness.run(job(waits(SensorKind.SQL, query, db_url=f"sqlite:///{path}")))
    assert run.state is RunState.SUCCESS
    assert [p.detail for p in pokes(harness, run)] == ["a row"]


def test_a_job_sensor_waits_for_that_jobs_run_of_the_same_day(harness: Harness) -> None:
    upstream = job(sh("ingest", "true"), name="ingest")
    assert harness.run(upstream).state is RunState.SUCCESS
    run = harness.run(job(waits(SensorKind.JOB, "ingest"), name="report"))
    assert run.state is RunState.SUCCESS
    assert [p.detail for p in pokes(harness, run)] == ["job 'ingest' succeeded"]


def test_a_sensor_keeps_its_deadline_across_a_restart(tmp_path: Path) -> None:
    clock = SteppingClock(timedelta(seconds=1))
    first = open_harness(tmp_path, clock)
    the_job: Job = job(
        waits(SensorKind.FILE, str(tmp_path / "never"), interval=5.0, timeout=3600.0)
    )
    now = clock()
    first.store.sync_jobs([the_job], now)
    run = first.store.create_run(the_job, now, Trigger.MANUAL, now)
    assert run is not None
    assert first.engine.start(the_job, run)
    while len(pokes(first, run)) < 3:
        first.engine.step(timeout=1.0)
    began = first.store.first_poke(run.id, "wait")
    assert began is not None
    first.engine.close()  # the process dies: the run is left running, the sensor waiting
    first.store.close()

    clock.step = timedelta(seconds=600)  # now the hour passes in a moment
    second = open_harness(tmp_path, clock)
    rows = second.store.task_runs(run.id)
    assert rows["wait"].state is TaskState.RUNNING
    assert second.engine.start(the_job, run, rerun=tasks_to_resume(the_job, rows), keep_budget=True)
    deadline = second.engine._runs[run.id].sensing["wait"]
    assert deadline == began + timedelta(seconds=3600)
    (final,) = second.engine.run_until_done()
    assert final.state is RunState.FAILED
    assert pokes(second, run)[-1].at < began + timedelta(seconds=3600)
    (attempt,) = second.attempts(run, "wait")
    assert attempt.reason == "sensor timed out"
    second.engine.close()
    second.store.close()


def test_a_run_timeout_cancels_a_waiting_sensor(harness: Harness) -> None:
    never = waits(SensorKind.FILE, str(harness.tmp / "never"), interval=0.05, timeout=3600.0)
    run = harness.run(job(never, sh("load", "true", after=("wait",)), timeout=0.5))
    assert run.state is RunState.FAILED
    assert run.reason == "run timed out after 0.5s"
    assert harness.states(run) == {"wait": TaskState.CANCELLED, "load": TaskState.CANCELLED}
