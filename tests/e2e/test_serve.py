"""`runwatch serve` as a real process: second-level schedules, signals, restarts, reloads."""

from __future__ import annotations

import contextlib
import itertools
import json
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest

from tests.e2e.cli import clean_env, free_port

Runwatch = Callable[..., subprocess.CompletedProcess[str]]


class Serve:
    """A `runwatch serve` child process with helpers to wait for what it does."""

    def __init__(self, tmp: Path, home: Path, jobs: Path, *extra: str) -> None:
        self.port = free_port()
        self.log = tmp / f"serve-{self.port}.log"
        self._log_file = self.log.open("w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "runner",
                "serve",
                "--jobs",
                str(jobs),
                "--listen",
                f"127.0.0.1:{self.port}",
                *extra,
            ],
            cwd=tmp,
            env=clean_env(home),
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        self.wait_until(self.healthy, "serve to answer /healthz")

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def wait_until(self, condition: Callable[[], bool], what: str, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited ({self.proc.returncode}):\n{self.output()}")
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}:\n{self.output()}")

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        code = self.proc.wait(timeout=timeout)
        self._log_file.close()
        return code

    def output(self) -> str:
        if not self._log_file.closed:
            self._log_file.flush()
        return self.log.read_text()


@pytest.fixture
def runwatch(tmp_path: Path, home: Path) -> Runwatch:
    def call(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "runner", *args],
            cwd=tmp_path,
            env=clean_env(home),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    return call


@pytest.fixture
def serves() -> Iterator[list[Serve]]:
    started: list[Serve] = []
    yield started
    for serve in started:
        if serve.proc.poll() is None:
            serve.stop(signal.SIGKILL)


def runs(runwatch: Runwatch, job: str | None = None) -> list[dict[str, object]]:
    args = ["runs", "--format", "json", "--limit", "1000"] + (["--job", job] if job else [])
    result = runwatch(*args)
    assert result.returncode == 0, result.stderr
    data: list[dict[str, object]] = json.loads(result.stdout)
    return data


def test_a_second_level_schedule_runs_once_per_second_without_duplicates(
    tmp_path: Path, home: Path, runwatch: Runwatch, serves: list[Serve]
) -> None:
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text("jobs:\n  tick:\n    schedule: '* * * * * *'\n    command: 'true'\n")
    serve = Serve(tmp_path, home, jobs)
    serves.append(serve)
    serve.wait_until(lambda: len(runs(runwatch)) >= 4, "four runs")
    assert serve.stop() == 0
    found = runs(runwatch)
    times = sorted(datetime.fromisoformat(str(r["logical_time"])) for r in found)
    assert len(times) == len(set(times))
    assert all(t.microsecond == 0 for t in times)
    gaps = {(b - a).total_seconds() for a, b in itertools.pairwise(times)}
    assert gaps == {1.0}, f"fire times are not consecutive seconds: {times}"
    assert {r["trigger"] for r in found} == {"schedule"}
    assert all(r["state"] in ("success", "cancelled") for r in found)


def test_healthz_answers_with_the_heartbeat_age(
    tmp_path: Path, home: Path, serves: list[Serve]
) -> None:
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text("jobs:\n  idle:\n    schedule: '0 3 * * *'\n    command: 'true'\n")
    serve = Serve(tmp_path, home, jobs)
    serves.append(serve)
    with urllib.request.urlopen(f"http://127.0.0.1:{serve.port}/healthz", timeout=2) as response:
        body = json.loads(response.read())
    assert body["status"] in ("ok", "starting")
    assert serve.stop() == 0


def test_sigterm_lets_a_running_task_finish_within_the_grace(
    tmp_path: Path, home: Path, runwatch: Runwatch, serves: list[Serve]
) -> None:
    started = tmp_path / "started"
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text("jobs:\n  slow:\n    command: 'touch started; sleep 1.5'\n")
    serve = Serve(tmp_path, home, jobs, "--shutdown-grace", "20s")
    serves.append(serve)
    assert runwatch("trigger", "slow", "--jobs", str(jobs)).returncode == 0
    serve.wait_until(started.exists, "the task to start")
    assert serve.stop() == 0
    (run,) = runs(runwatch)
    assert run["state"] == "success"


def test_sigterm_cancels_what_outlives_the_grace(
    tmp_path: Path, home: Path, runwatch: Runwatch, serves: list[Serve]
) -> None:
    started = tmp_path / "started"
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(
        "jobs:\n  slow:\n    kill_grace: 1s\n    command: 'touch started; exec sleep 60'\n"
    )
    serve = Serve(tmp_path, home, jobs, "--shutdown-grace", "0.5s")
    serves.append(serve)
    assert runwatch("trigger", "slow", "--jobs", str(jobs)).returncode == 0
    serve.wait_until(started.exists, "the task to start")
    begun = time.monotonic()
    assert serve.stop() == 0
    assert time.monotonic() - begun < 15
    (run,) = runs(runwatch)
    assert run["state"] == "cancelled"
    assert "runwatch serve stopped by SIGTERM" in str(run["reason"])


def _pid_recorded(home: Path) -> Callable[[], bool]:
    """Whether every running attempt of the store has its pid recorded (and one runs)."""

    def recorded() -> bool:
        with contextlib.closing(sqlite3.connect(home / "runwatch.db", timeout=10)) as db:
            pids = [r[0] for r in db.execute("SELECT pid FROM attempts WHERE state = 'running'")]
        return bool(pids) and None not in pids

    return recorded


def test_a_restart_after_sigkill_creates_no_duplicate_and_adopts_the_running_attempt(
    tmp_path: Path, home: Path, runwatch: Runwatch, serves: list[Serve]
) -> None:
    started, release, marker = tmp_path / "started", tmp_path / "release", tmp_path / "ran"
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(
        "jobs:\n  nightly:\n    schedule: '* * * * * */2'\n    overlap: skip\n"
        "    tasks:\n      work:\n        retries: 1\n"
        f"        command: 'if [ -e {started} ]; then exit 0; fi; touch {started}; "
        f"while [ ! -e {release} ]; do sleep 0.05; done; echo once >> {marker}'\n"
    )
    first = Serve(tmp_path, home, jobs)
    serves.append(first)
    first.wait_until(started.exists, "the first attempt to start")
    # Killed once its command's pid is recorded; a supervisor killed between the spawn and
    # that record is tests/faults/test_spawn_window.py's case.
    first.wait_until(_pid_recorded(home), "the attempt's pid to be recorded")
    first.stop(signal.SIGKILL)
    second = Serve(tmp_path, home, jobs)
    serves.append(second)
    release.touch()
    second.wait_until(
        lambda: any(r["state"] == "success" for r in runs(runwatch)), "the adopted run to succeed"
    )
    assert second.stop() == 0
    found = runs(runwatch)
    times = [r["logical_time"] for r in found]
    assert len(times) == len(set(times)), "a fire time got two runs"
    assert marker.read_text() == "once\n"
    first_run = min(found, key=lambda r: str(r["logical_time"]))
    shown = json.loads(runwatch("show", str(first_run["run_id"]), "--format", "json").stdout)
    attempts = shown["tasks"][0]["attempts"]
    assert [(a["state"], a["reason"]) for a in attempts] == [
        ("success", "adopted after the supervisor died")
    ]


def test_changed_job_files_are_reloaded_and_a_broken_change_keeps_the_old_jobs(
    tmp_path: Path, home: Path, runwatch: Runwatch, serves: list[Serve]
) -> None:
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text("jobs:\n  first:\n    schedule: '0 3 * * *'\n    command: 'true'\n")
    serve = Serve(tmp_path, home, jobs)
    serves.append(serve)
    time.sleep(1.1)  # a different mtime second on coarse file systems
    jobs.write_text(
        "jobs:\n  first:\n    schedule: '0 3 * * *'\n    command: 'true'\n"
        "  second:\n    schedule: '* * * * * *'\n    command: 'true'\n"
    )
    serve.wait_until(lambda: len(runs(runwatch, "second")) >= 1, "the added job to run", 30)
    time.sleep(1.1)
    jobs.write_text("jobs:\n  second:\n    schedule: 'every second please'\n")
    serve.wait_until(lambda: "not reloaded" in serve.output(), "the reload error", 30)
    before = len(runs(runwatch, "second"))
    serve.wait_until(lambda: len(runs(runwatch, "second")) > before, "the old job to go on")
    assert serve.stop() == 0
    assert "schedule" in serve.output()


def test_sighup_reloads_definitions_when_file_watching_is_off(
    tmp_path: Path, home: Path, runwatch: Runwatch, serves: list[Serve]
) -> None:
    (tmp_path / "runwatch.yaml").write_text("server:\n  watch_interval: 0s\n")
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text("jobs:\n  first:\n    schedule: '0 3 * * *'\n    command: 'true'\n")
    serve = Serve(tmp_path, home, jobs)
    serves.append(serve)
    jobs.write_text("jobs:\n  added:\n    schedule: '* * * * * *'\n    command: 'true'\n")
    time.sleep(3)  # longer than the default watch interval: nothing reloads by itself
    assert runs(runwatch, "added") == []
    serve.proc.send_signal(signal.SIGHUP)
    serve.wait_until(lambda: len(runs(runwatch, "added")) >= 1, "the job added by SIGHUP")
    assert serve.stop() == 0


def test_serve_pings_its_heartbeat_url_so_a_dead_scheduler_is_noticed(
    tmp_path: Path, home: Path, serves: list[Serve]
) -> None:
    import http.server
    import threading

    pings: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            pings.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    port = receiver.server_address[1]
    (tmp_path / "runwatch.yaml").write_text(
        f"server:\n  heartbeat_url: http://127.0.0.1:{port}/ping/abc\n  heartbeat_interval: 0.3s\n"
    )
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text("jobs:\n  idle:\n    schedule: '0 3 * * *'\n    command: 'true'\n")
    serve = Serve(tmp_path, home, jobs)
    serves.append(serve)
    serve.wait_until(lambda: len(pings) >= 3, "three heartbeat pings")
    assert serve.stop() == 0
    receiver.shutdown()
    receiver.server_close()
    assert set(pings) == {"/ping/abc"}


def test_a_heartbeat_url_that_is_not_http_is_a_config_error(tmp_path: Path, home: Path) -> None:
    (tmp_path / "runwatch.yaml").write_text("server:\n  heartbeat_url: ftp://example/x\n")
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text("jobs:\n  idle:\n    command: 'true'\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "runner",
            "serve",
            "--jobs",
            str(jobs),
            "--listen",
            f"127.0.0.1:{free_port()}",
        ],
        cwd=tmp_path,
        env=clean_env(home),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "server.heartbeat_url" in result.stderr


def test_metrics_count_the_spool_files_the_store_refused_for_good(
    tmp_path: Path, home: Path, serves: list[Serve]
) -> None:
    rejected = home / "spool" / "rejected"
    rejected.mkdir(parents=True)
    for n in range(3):
        (rejected / f"0000{n}.json").write_text("{}")
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text("jobs:\n  idle:\n    schedule: '0 3 * * *'\n    command: 'true'\n")
    serve = Serve(tmp_path, home, jobs)
    serves.append(serve)

    def gauge() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{serve.port}/metrics", timeout=2) as r:
            text: str = r.read().decode()
        lines = [ln for ln in text.splitlines() if ln.startswith("runwatch_spool_rejected_files")]
        return lines[0] if lines else ""

    serve.wait_until(lambda: gauge() == "runwatch_spool_rejected_files 3.0", "the gauge")
    assert serve.stop() == 0


def test_serve_refuses_a_corrupt_store_naming_the_file(
    tmp_path: Path, home: Path, runwatch: Runwatch
) -> None:
    home.mkdir()
    database = home / "runwatch.db"
    database.write_bytes(b"SQLite format 3\0" + b"\0" * 4080)  # a header, then zeroes
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text("jobs:\n  idle:\n    schedule: '0 3 * * *'\n    command: 'true'\n")

    result = runwatch("serve", "--jobs", str(jobs), "--listen", "127.0.0.1:0")

    assert result.returncode == 2, result.stderr
    assert f"the store file {database} is corrupt" in result.stderr
    assert "Traceback" not in result.stderr


def _pokes(home: Path) -> list[tuple[int, int]]:
    """(run id, ready) of every sensor poke in the store."""
    with contextlib.closing(sqlite3.connect(home / "runwatch.db", timeout=10)) as db:
        rows = db.execute(
            "SELECT run_id, payload FROM events WHERE type = 'task_poked' ORDER BY id"
        ).fetchall()
    return [(run_id, int(json.loads(payload)["ready"])) for run_id, payload in rows]


def test_a_sensor_goes_on_waiting_across_a_serve_restart(
    tmp_path: Path, home: Path, runwatch: Runwatch, serves: list[Serve]
) -> None:
    ready = tmp_path / "ready.flag"
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(
        "jobs:\n  gated:\n    schedule: '* * * * * */2'\n    overlap: skip\n    tasks:\n"
        f"      wait:\n        sensor: {{file: '{ready}', interval: 0.2s, timeout: 1h}}\n"
        "      load:\n        command: 'true'\n        after: [wait]\n"
    )
    first = Serve(tmp_path, home, jobs)
    serves.append(first)
    first.wait_until(lambda: len(_pokes(home)) >= 2, "the sensor to poke")
    first.stop(signal.SIGKILL)
    (waiting,) = {run_id for run_id, _ in _pokes(home)}
    before = len(_pokes(home))
    second = Serve(tmp_path, home, jobs)
    serves.append(second)
    second.wait_until(lambda: len(_pokes(home)) > before + 1, "the sensor to poke again")
    ready.touch()
    second.wait_until(
        lambda: any(r["run_id"] == waiting and r["state"] == "success" for r in runs(runwatch)),
        "the resumed run to succeed",
    )
    assert second.stop() == 0
    assert [ready for run_id, ready in _pokes(home) if run_id == waiting][-1] == 1
    shown = json.loads(runwatch("show", str(waiting), "--format", "json").stdout)
    tasks = {t["task"]: t for t in shown["tasks"]}
    assert tasks["wait"]["attempts"] == []  # pokes, not attempts
    assert [a["state"] for a in tasks["load"]["attempts"]] == ["success"]
