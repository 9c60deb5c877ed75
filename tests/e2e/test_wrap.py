"""`runwatch wrap` end to end: real processes, a real SQLite store, real signals and locks."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from runner.model import RunState, TaskState, Trigger
from runner.store.store import Store
from runner.wrap.process import TAIL_BYTES
from tests import pg
from tests.runner.wrap.conftest import Wrap, make_wrap, wrap_env

BINARY_WRITER = """
import os, sys
data = bytes(range(256)) * int(sys.argv[1])
os.write(1, data)
os.write(2, data[::-1])
"""


@pytest.fixture
def wrap(tmp_path: Path, home: Path) -> Wrap:
    return make_wrap(tmp_path, home)


def open_store(home: Path) -> Store:
    return Store.open(f"sqlite:///{home / 'runwatch.db'}")


def py(code: str, *args: str) -> list[str]:
    return [sys.executable, "-c", code, *args]


def test_wrap_exits_with_the_commands_exit_code(wrap: Wrap) -> None:
    assert wrap("--job", "ok", "--", "true").returncode == 0
    assert wrap("--job", "three", "--", "sh", "-c", "exit 3").returncode == 3


def test_a_command_killed_by_a_signal_exits_128_plus_the_signal(wrap: Wrap, home: Path) -> None:
    result = wrap("--job", "killed", "--", "sh", "-c", "kill -9 $$")

    assert result.returncode == 128 + 9
    with open_store(home) as store:
        (attempt,) = store.attempts(store.list_runs()[0].id)
    assert (attempt.signal, attempt.reason) == (9, "killed by signal 9 (SIGKILL)")


def test_stdout_and_stderr_pass_through_byte_for_byte(wrap: Wrap, home: Path) -> None:
    copies = 4 * TAIL_BYTES // 256 * 16  # 16 times the captured tail: 64 KiB a stream
    data = bytes(range(256)) * copies

    result = wrap("--job", "binary", "--", *py(BINARY_WRITER, str(copies)))

    assert result.returncode == 0, result.stderr[-500:]
    assert result.stdout == data
    assert result.stderr == data[::-1]
    with open_store(home) as store:
        (attempt,) = store.attempts(store.list_runs()[0].id)
    assert attempt.stdout_path is not None
    assert Path(attempt.stdout_path).read_bytes() == data


def test_one_file_for_stdout_and_stderr_keeps_their_order(wrap: Wrap, tmp_path: Path) -> None:
    script = "for i in 1 2 3 4 5; do echo out$i; echo err$i >&2; done"
    out = tmp_path / "mail.txt"
    with out.open("wb") as both:  # as cron does: one pipe for both streams
        result = wrap("--job", "ordered", "--", "sh", "-c", script, stdout=both, stderr=both)

    assert result.returncode == 0
    expected = "".join(f"out{i}\nerr{i}\n" for i in range(1, 6))
    assert out.read_text() == expected


def test_a_wrapped_run_is_recorded_with_its_attempt_duration_and_tail(
    wrap: Wrap, home: Path
) -> None:
    command = "echo working; sleep 0.2; for i in $(seq 30); do echo line$i >&2; done; exit 4"
    result = wrap(
        "--job",
        "etl",
        "--schedule",
        "*/5 * * * *",
        "--grace",
        "2m",
        "--owner",
        "data",
        "--tag",
        "cron",
        "--tag",
        "etl",
        "--",
        "sh",
        "-c",
        command,
    )

    assert result.returncode == 4
    with open_store(home) as store:
        (run,) = store.list_runs()
        (attempt,) = store.attempts(run.id)
        job = store.get_job("etl")
        types = [e.type for e in store.events_after(0)]
    assert (run.trigger, run.state, run.reason) == (Trigger.WRAP, RunState.FAILED, "failed: etl")
    assert run.duration_seconds is not None
    assert run.duration_seconds >= 0.2
    assert (attempt.state, attempt.exit_code, attempt.reason) == (
        TaskState.FAILED,
        4,
        "exit code 4",
    )
    assert attempt.error is not None
    assert attempt.error.splitlines() == [f"line{i}" for i in range(11, 31)]
    assert job is not None
    assert (job.schedule, job.owner, job.tags) == ("*/5 * * * *", "data", ("cron", "etl"))
    assert types == [
        "run_queued",
        "run_started",
        "attempt_started",
        "attempt_failed",
        "run_failed",
    ]


def test_the_command_gets_its_run_in_the_environment(wrap: Wrap, home: Path) -> None:
    result = wrap("--job", "env", "--", "sh", "-c", "echo $RUNWATCH_JOB $RUNWATCH_RUN_ID")

    assert result.stdout.decode().split() == ["env", "1"]


def test_retries_record_one_attempt_per_try(wrap: Wrap, home: Path, tmp_path: Path) -> None:
    marker = tmp_path / "tried"
    flaky = f"if [ -e {marker} ]; then exit 0; fi; touch {marker}; exit 1"

    result = wrap(
        "--job", "flaky", "--retries", "2", "--retry-delay", "0.1", "--", "sh", "-c", flaky
    )

    assert result.returncode == 0
    with open_store(home) as store:
        (run,) = store.list_runs()
        states = [a.state for a in store.attempts(run.id)]
    assert states == [TaskState.FAILED, TaskState.SUCCESS]
    assert run.state is RunState.SUCCESS


def test_a_timeout_stops_the_command_and_exits_124(wrap: Wrap, home: Path) -> None:
    started = time.monotonic()
    result = wrap("--job", "slow", "--timeout", "0.3s", "--", "sleep", "30")

    assert result.returncode == 124
    assert time.monotonic() - started < 10
    with open_store(home) as store:
        (attempt,) = store.attempts(store.list_runs()[0].id)
    assert attempt.state is TaskState.TIMED_OUT


def test_sigterm_to_wrap_reaches_the_command_and_cancels_the_run(
    home: Path, tmp_path: Path
) -> None:
    ready = tmp_path / "ready"
    script = f"trap 'echo got-term; exit 143' TERM; touch {ready}; while true; do sleep 0.05; done"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "runner",
            "wrap",
            "--job",
            "term",
            "--",
            "sh",
            "-c",
            script,
        ],
        env=wrap_env(home),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 20
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    out, _ = process.communicate(timeout=20)

    assert process.returncode == 143
    assert out == b"got-term\n"
    with open_store(home) as store:
        (run,) = store.list_runs()
    assert (run.state, run.reason) == (RunState.CANCELLED, "interrupted by SIGTERM")


def test_a_command_that_is_not_found_exits_127(wrap: Wrap) -> None:
    result = wrap("--job", "missing", "--", "no-such-command-runwatch")

    assert result.returncode == 127
    found, unalerted = result.stderr.decode().strip().splitlines()
    assert found == "runwatch wrap: command not found: 'no-such-command-runwatch'"
    assert unalerted.startswith("runwatch wrap: job missing failed (command not found")
    assert "no alert was sent: no settings file found" in unalerted


def test_a_bad_option_is_one_line_and_the_command_still_runs(wrap: Wrap) -> None:
    result = wrap("--job", "x", "--grace", "soon", "--", "sh", "-c", "echo ran; exit 5")

    assert result.returncode == 5
    assert result.stdout == b"ran\n"
    line, unalerted = result.stderr.decode().splitlines()
    assert line.startswith("runwatch wrap: --grace ignored: expected a duration")
    assert "job x failed (exit code 5) and no alert was sent" in unalerted


def test_a_missing_job_runs_the_command_unrecorded(wrap: Wrap, home: Path) -> None:
    result = wrap("--", "sh", "-c", "exit 6")

    assert result.returncode == 6
    assert not (home / "runwatch.db").exists()


def test_no_command_is_a_usage_error(wrap: Wrap) -> None:
    result = wrap("--job", "x")

    assert result.returncode == 2
    assert b"no command given" in result.stderr


def test_a_locked_store_spools_the_result_and_the_next_wrap_records_it_once(
    wrap: Wrap, home: Path
) -> None:
    assert wrap("--job", "first", "--", "true").returncode == 0  # creates the store
    holder = sqlite3.connect(home / "runwatch.db", isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        started = time.monotonic()
        locked = wrap("--job", "locked", "--", "sh", "-c", "echo still-ran; exit 7")
        took = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    assert locked.returncode == 7
    assert locked.stdout == b"still-ran\n"
    assert took < 30  # the start's 1 s bound and the final record's 5 s, on a loaded machine
    (problem,) = locked.stderr.decode().splitlines()
    assert problem.startswith("runwatch wrap: the store is unavailable, the result goes to")
    assert len(list((home / "spool").glob("*.json"))) == 1

    for _ in range(2):  # the next wraps replay it; the second finds nothing left
        assert wrap("--job", "later", "--", "true").returncode == 0

    assert list((home / "spool").glob("*.json")) == []
    with open_store(home) as store:
        runs = store.list_runs(job="locked")
        assert [(r.state, r.trigger) for r in runs] == [(RunState.FAILED, Trigger.WRAP)]
        (attempt,) = store.attempts(runs[0].id)
        assert attempt.exit_code == 7
        assert attempt.stdout_path is not None
        assert Path(attempt.stdout_path).read_text() == "still-ran\n"
        failed = [e for e in store.events_after(0) if e.type == "run_failed"]
    assert len(failed) == 1


def test_an_unreachable_database_spools_without_holding_the_command_up(
    wrap: Wrap, home: Path
) -> None:
    env = wrap_env(home, RUNWATCH_DB_URL="postgresql://runwatch@127.0.0.1:1/nowhere")

    result = wrap("--job", "remote-db", "--", "sh", "-c", "echo ok", env=env)

    assert result.returncode == 0
    assert result.stdout == b"ok\n"
    assert len(list((home / "spool").glob("*.json"))) == 1


@contextmanager
def holding_the_lock(home: Path, job: str, overlap: str, *command: str) -> Iterator[None]:
    """Run a first `wrap` of ``job`` in the background; yield once it holds the job lock,
    and check on the way out that it ended successfully."""
    first = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "runner",
            "wrap",
            "--job",
            job,
            "--overlap",
            overlap,
            "--",
            *command,
        ],
        env=wrap_env(home),
    )
    try:
        deadline = time.monotonic() + 20
        while not (home / "locks" / f"{job}.lock").exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)
        yield
    finally:
        assert first.wait(timeout=20) == 0


def test_overlap_skip_turns_a_second_start_away_and_records_it(wrap: Wrap, home: Path) -> None:
    with holding_the_lock(home, "single", "skip", "sleep", "1.5"):
        second = wrap("--job", "single", "--overlap", "skip", "--", "sh", "-c", "echo ran")

    assert second.returncode == 0
    assert second.stdout == b""
    assert b"this start is skipped" in second.stderr
    with open_store(home) as store:
        assert len(store.list_runs(job="single")) == 1
        skipped = [e for e in store.events_after(0) if e.type == "run_skipped"]
    assert len(skipped) == 1


def test_overlap_wait_starts_after_the_previous_run_ends(wrap: Wrap, home: Path) -> None:
    with holding_the_lock(home, "queue", "wait", "sleep", "1"):
        second = wrap("--job", "queue", "--overlap", "wait", "--", "true")

    assert second.returncode == 0
    with open_store(home) as store:
        older, newer = sorted(store.list_runs(job="queue"), key=lambda r: r.id)
    assert older.finished_at is not None
    assert newer.started_at is not None
    assert newer.started_at >= older.finished_at


def test_overlap_allow_runs_copies_side_by_side(home: Path, tmp_path: Path) -> None:
    # Each copy waits (up to 30 s) until both are running: side by side, or neither ends well.
    both = f'touch "{tmp_path}/$$"; i=0; while [ "$(ls "{tmp_path}" | wc -l)" -lt 2 ]; do '
    both += "i=$((i+1)); [ $i -gt 600 ] && exit 9; sleep 0.05; done"
    command = [sys.executable, "-m", "runner", "wrap", "--job", "many", "--", "sh", "-c", both]
    processes = [subprocess.Popen(command, env=wrap_env(home)) for _ in range(2)]

    assert [p.wait(timeout=60) for p in processes] == [0, 0]
    with open_store(home) as store:
        runs = store.list_runs(job="many")
    assert len(runs) == 2
    spans = sorted((r.started_at, r.finished_at) for r in runs)
    assert spans[1][0] is not None
    assert spans[0][1] is not None
    assert spans[1][0] < spans[0][1]


def test_wrap_joins_the_callers_trace(wrap: Wrap, home: Path) -> None:
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    env = wrap_env(home, TRACEPARENT=parent, OTEL_TRACES_EXPORTER="console")

    result = wrap("--job", "traced", "--", "sh", "-c", "echo $TRACEPARENT", env=env)

    assert result.returncode == 0
    child = result.stdout.decode().strip().split("-")
    assert child[1] == "0af7651916cd43dd8448eb211c80319c"
    assert child[2] != "b7ad6b7169203331"  # the attempt's own span
    spans = result.stderr.decode()
    assert '"name": "run traced"' in spans
    with open_store(home) as store:
        (run,) = store.list_runs()
    assert run.trace_id == "0af7651916cd43dd8448eb211c80319c"


@pytest.mark.postgresql
def test_wrap_records_in_postgresql(wrap: Wrap, home: Path) -> None:
    with pg.temporary_schema() as url:
        result = wrap(
            "--job", "pg", "--", "sh", "-c", "exit 2", env=wrap_env(home, RUNWATCH_DB_URL=url)
        )
        assert result.returncode == 2, result.stderr
        with Store.open(url) as store:
            (run,) = store.list_runs()
            assert run.state is RunState.FAILED
            assert [e.type for e in store.events_after(0)][-1] == "run_failed"


def test_runwatch_show_reads_a_wrapped_run(wrap: Wrap, home: Path, tmp_path: Path) -> None:
    wrap("--job", "shown", "--", "sh", "-c", "echo hello")

    result = subprocess.run(
        [sys.executable, "-m", "runner", "show", "1", "--format", "json"],
        env=wrap_env(home),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert (shown["job"], shown["trigger"], shown["state"]) == ("shown", "wrap", "success")
    logs = subprocess.run(
        [sys.executable, "-m", "runner", "logs", "1"],
        env=wrap_env(home),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "hello" in logs.stdout


def test_wrap_never_shows_a_traceback_when_the_home_is_unusable(tmp_path: Path) -> None:
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    env = wrap_env(blocked / "home")

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "runner",
            "wrap",
            "--job",
            "x",
            "--",
            "sh",
            "-c",
            "exit 9",
        ],
        env=env,
        capture_output=True,
        check=False,
    )

    assert result.returncode == 9
    assert b"Traceback" not in result.stderr
    assert all(line.startswith(b"runwatch wrap: ") for line in result.stderr.splitlines())
    assert os.path.exists(blocked)


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[bytes]] = []

    def do_POST(self) -> None:
        self.received.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


def test_a_failed_wrapped_run_delivers_its_alert_and_the_next_success_resolves_it(
    tmp_path: Path, home: Path
) -> None:
    hook = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    threading.Thread(target=hook.serve_forever, daemon=True).start()
    _Hook.received.clear()
    (tmp_path / "runwatch.yaml").write_text(
        "alerting:\n"
        "  receivers:\n"
        f"    hook: {{webhook: {{url: 'http://127.0.0.1:{hook.server_address[1]}/hook'}}}}\n"
        "  route: {receiver: hook, group_wait: 0s, group_interval: 0s}\n"
        "  rules:\n"
        "    - {alert: JobFailed, when: run_failed, severity: error}\n"
    )
    wrap = make_wrap(tmp_path, home)
    try:
        assert wrap("--job", "alerting", "--", "sh", "-c", "exit 1").returncode == 1
        fired = [json.loads(body) for body in _Hook.received]
        assert wrap("--job", "alerting", "--", "true").returncode == 0
        resolved = [json.loads(body) for body in _Hook.received[len(fired) :]]
    finally:
        hook.shutdown()
        hook.server_close()

    assert len(fired) == 1
    assert "firing" in json.dumps(fired[0])
    assert len(resolved) == 1
    assert "resolved" in json.dumps(resolved[0])


def test_a_wrapped_run_imports_nothing_heavy_once_the_store_exists(
    wrap: Wrap, home: Path, tmp_path: Path
) -> None:
    args = ["--job", "lean", "--schedule", "*/5 * * * *", "--", "true"]
    assert wrap(*args).returncode == 0  # creates the schema and validates the schedule

    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "runner", "wrap", *args],
        env=wrap_env(home),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0
    imported = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()}
    heavy = {"sqlalchemy", "alembic", "yaml", "croniter", "opentelemetry", "alerting", "psycopg"}
    assert {name.split(".")[0] for name in imported} & heavy == set()
    runner_core = {"runner.store.store", "runner.model", "runner.events", "runner.config"}
    assert imported & (runner_core | {"dataclasses", "logging", "typing"}) == set()


def test_sigterm_while_waiting_to_retry_cancels_the_run_at_once(home: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "runner",
            "wrap",
            "--job",
            "patient",
            "--retries",
            "3",
            "--retry-delay",
            "60",
            "--",
            "false",
        ],
        env=wrap_env(home),
        stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    retrying = False
    while not retrying and time.monotonic() < deadline:
        time.sleep(0.05)
        with (
            contextlib.suppress(sqlite3.OperationalError),
            sqlite3.connect(home / "runwatch.db") as db,
        ):
            found = db.execute("SELECT 1 FROM task_runs WHERE state = 'retrying'").fetchone()
            retrying = found is not None
    assert retrying
    process.send_signal(signal.SIGTERM)

    assert process.wait(timeout=10) == 128 + signal.SIGTERM
    with open_store(home) as store:
        (run,) = store.list_runs()
        task = store.task_runs(run.id)["patient"]
    assert (run.state, run.reason, task.state) == (
        RunState.CANCELLED,
        "interrupted by SIGTERM",
        TaskState.CANCELLED,
    )
