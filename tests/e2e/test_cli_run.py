"""`runwatch` end to end: real processes, a real SQLite store, real signals."""

from __future__ import annotations

import json
import os
import pty
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest

from tests.e2e.cli import clean_env

REPO = Path(__file__).resolve().parents[2]

Runwatch = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def runwatch(tmp_path: Path, home: Path) -> Runwatch:
    def call(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "runner", *args],
            cwd=tmp_path,
            env=clean_env(home),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return call


def write_jobs(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "jobs.yaml"
    path.write_text(text)
    return path


def runs_json(runwatch: Runwatch) -> list[dict[str, object]]:
    result = runwatch("runs", "--format", "json")
    assert result.returncode == 0, result.stderr
    data: list[dict[str, object]] = json.loads(result.stdout)
    return data


def test_the_summary_table_counts_attempts_and_notes_why_a_task_failed(
    tmp_path: Path, runwatch: Runwatch
) -> None:
    jobs = write_jobs(
        tmp_path,
        "jobs:\n  mixed:\n    tasks:\n"
        "      fine:\n        command: 'true'\n"
        "      flaky:\n        retries: 1\n        retry_delay: 0\n"
        "        command: 'test -e marker || { touch marker; exit 5; }'\n"
        "      broken:\n        retries: 1\n        retry_delay: 0\n"
        "        command: 'echo no space left >&2; exit 3'\n"
        "      never:\n        command: 'true'\n        after: [broken]\n",
    )
    result = runwatch("run", "mixed", "--jobs", str(jobs))
    assert result.returncode == 1, result.stderr
    rows = {
        line.split()[0]: line.split()
        for line in result.stdout.splitlines()
        if line.split() and line.split()[0] in ("fine", "flaky", "broken", "never")
    }
    assert rows["fine"][1:3] == ["success", "1"]
    assert rows["flaky"][1:3] == ["success", "2"]  # retried once; a success has no note
    assert len(rows["flaky"]) == 4
    assert rows["broken"][1:3] == ["failed", "2"]
    assert rows["broken"][4:] == ["exit", "code", "3"]  # its last attempt's reason
    assert rows["never"][1:4] == ["upstream_failed", "0", "-"]
    assert "last error (broken, attempt 2):\n  no space left" in result.stdout
    assert "runwatch logs " in result.stdout
    assert "broken --attempt 2" in result.stdout


def test_example_etl_runs_to_success_through_a_retried_flaky_step(
    tmp_path: Path, home: Path
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "runner", "run", "nightly-etl", "--format", "json"],
        cwd=REPO,
        env={**clean_env(home), "ETL_OUTPUT": str(tmp_path / "out")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["state"] == "success"
    tasks = {t["task"]: t for t in summary["tasks"]}
    assert [a["state"] for a in tasks["load"]["attempts"]] == ["failed", "success"]
    assert (tmp_path / "out" / "warehouse.db").exists()


def test_runs_json_lists_the_documented_fields_in_iso_8601(
    tmp_path: Path, runwatch: Runwatch
) -> None:
    jobs = write_jobs(tmp_path, "jobs:\n  hello:\n    command: echo hello\n")
    assert runwatch("run", "hello", "--jobs", str(jobs)).returncode == 0
    (run,) = runs_json(runwatch)
    for key in ("run_id", "job", "state", "trigger", "logical_time", "started_at", "finished_at"):
        assert key in run
    assert run["job"] == "hello"
    assert run["state"] == "success"
    assert run["trigger"] == "manual"
    assert datetime.fromisoformat(str(run["finished_at"])).tzinfo is not None


def test_failed_run_exits_1_and_show_and_logs_tell_why(tmp_path: Path, runwatch: Runwatch) -> None:
    jobs = write_jobs(
        tmp_path,
        "jobs:\n  broken:\n    tasks:\n"
        "      fetch:\n        command: 'echo fetching; echo disk full >&2; exit 4'\n"
        "      load:\n        command: 'true'\n        after: [fetch]\n",
    )
    result = runwatch("run", "broken", "--jobs", str(jobs))
    assert result.returncode == 1
    assert "disk full" in result.stdout
    run_id = str(runs_json(runwatch)[0]["run_id"])
    shown = json.loads(runwatch("show", run_id, "--format", "json").stdout)
    tasks = {t["task"]: t for t in shown["tasks"]}
    assert tasks["fetch"]["attempts"][0]["exit_code"] == 4
    assert tasks["load"]["state"] == "upstream_failed"
    assert "disk full" in runwatch("show", run_id).stdout
    logs = runwatch("logs", run_id, "fetch", "--stream", "stdout")
    assert logs.stdout == "fetching\n"
    assert runwatch("logs", run_id, "fetch", "--stream", "stderr").stdout == "disk full\n"


def test_parameters_arrive_as_environment_variables_never_through_a_shell(
    tmp_path: Path, runwatch: Runwatch
) -> None:
    out = tmp_path / "param.txt"
    jobs = write_jobs(
        tmp_path, f"jobs:\n  p:\n    command: 'printf %s \"$RUNWATCH_PARAM_DAY\" > {out}'\n"
    )
    result = runwatch("run", "p", "--jobs", str(jobs), "--param", "day=$(touch pwned); 2026")
    assert result.returncode == 0, result.stderr
    assert out.read_text() == "$(touch pwned); 2026"
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "nope"], "job 'nope' is not defined"),
        (["run", "p", "--param", "no-equals"], "--param 'no-equals': expected KEY=VALUE"),
        (["run", "p", "--logical-time", "yesterday"], "--logical-time 'yesterday'"),
        (["runs", "--status", "exploded"], "--status 'exploded': expected one of"),
        (["runs", "--limit", "0"], "argument --limit: expected a whole number from 1"),
        (["show", "999"], "no run with id 999"),
        (["db", "prune", "--older-than", "ninety"], "--older-than"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_usage_errors_exit_2_with_a_message_and_no_traceback(
    tmp_path: Path, runwatch: Runwatch, args: list[str], message: str
) -> None:
    jobs = write_jobs(tmp_path, "jobs:\n  p:\n    command: 'true'\n")
    extra = ["--jobs", str(jobs)] if args[0] == "run" else []
    result = runwatch(*args, *extra)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_definition_exits_2_naming_file_job_task_and_key(
    tmp_path: Path, runwatch: Runwatch
) -> None:
    jobs = write_jobs(
        tmp_path, "jobs:\n  etl:\n    tasks:\n      a:\n        command: x\n        retires: 2\n"
    )
    for command in (["check"], ["run", "etl"]):
        result = runwatch(*command, "--jobs", str(jobs))
        assert result.returncode == 2
        assert "jobs.yaml" in result.stderr
        assert "job 'etl', task 'a'" in result.stderr
        assert "did you mean 'retries'" in result.stderr
        assert "Traceback" not in result.stderr
    assert runs_json(runwatch) == []


def test_check_accepts_the_repository_examples() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "runner", "check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    settings, summary = result.stdout.splitlines()
    assert settings == f"settings: {REPO / 'runwatch.yaml'}"
    assert summary.startswith("ok:")


def _fail_then_fix(
    runwatch: Runwatch, jobs: Path, when: str, marker: Path
) -> subprocess.CompletedProcess[str]:
    """Run ``daily`` for ``when`` (it fails), create ``marker``, run it again (it succeeds)."""
    assert runwatch("run", "daily", "--jobs", str(jobs), "--logical-time", when).returncode == 1
    marker.touch()
    second = runwatch("run", "daily", "--jobs", str(jobs), "--logical-time", when)
    assert second.returncode == 0, second.stderr
    return second


def test_rerun_for_a_logical_time_repeats_only_what_did_not_succeed(
    tmp_path: Path, runwatch: Runwatch
) -> None:
    marker, log = tmp_path / "fixed", tmp_path / "log.txt"
    jobs = write_jobs(
        tmp_path,
        "jobs:\n  daily:\n    tasks:\n"
        f"      extract:\n        command: 'echo extract >> {log}'\n"
        f"      load:\n        command: 'echo load >> {log}; test -e {marker}'\n"
        "        after: [extract]\n",
    )
    when = "2026-11-24T02:00:00+00:00"
    second = _fail_then_fix(runwatch, jobs, when, marker)
    assert "rerunning load" in second.stdout
    assert log.read_text().split() == ["extract", "load", "load"]
    third = runwatch("run", "daily", "--jobs", str(jobs), "--logical-time", when)
    assert third.returncode == 0
    assert "nothing to rerun" in third.stdout
    forced = runwatch("run", "daily", "--jobs", str(jobs), "--logical-time", when, "--force")
    assert forced.returncode == 0
    assert log.read_text().split() == ["extract", "load", "load", "extract", "load"]
    runs = runs_json(runwatch)
    assert len(runs) == 1
    assert runs[0]["logical_time"] == when


def _spawn(tmp_path: Path, home: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "runner", *args],
        cwd=tmp_path,
        env=clean_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(path: Path, timeout: float = 20) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        time.sleep(0.05)
    raise AssertionError(f"{path} never appeared")


def _gone(pid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_interrupting_run_stops_its_tasks_and_records_the_run_cancelled(
    tmp_path: Path, home: Path, runwatch: Runwatch, signum: int, code: int
) -> None:
    pidfile = tmp_path / "pid"
    jobs = write_jobs(
        tmp_path,
        "jobs:\n  long:\n    kill_grace: 1s\n    tasks:\n"
        f"      wait:\n        command: 'echo $$ > {pidfile}; exec sleep 60'\n"
        "      never:\n        command: 'true'\n        after: [wait]\n",
    )
    proc = _spawn(tmp_path, home, "run", "long", "--jobs", str(jobs))
    task_pid = int(_wait_for(pidfile))
    proc.send_signal(signum)
    proc.communicate(timeout=30)
    assert proc.returncode == code
    assert _gone(task_pid)
    (run,) = runs_json(runwatch)
    assert run["state"] == "cancelled"
    shown = json.loads(runwatch("show", str(run["run_id"]), "--format", "json").stdout)
    assert {t["task"]: t["state"] for t in shown["tasks"]} == {
        "wait": "cancelled",
        "never": "cancelled",
    }


def _kill_with_its_task(proc: subprocess.Popen[str], task_pid: int) -> None:
    """SIGKILL `runwatch run`, the keeper that is its task's parent (before it can write the
    task's status), then the task's process group: nothing is left to adopt, so the attempt
    is orphaned."""
    group = os.getpgid(task_pid)
    keeper = int(Path(f"/proc/{task_pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    proc.kill()
    proc.communicate(timeout=10)
    os.kill(keeper, signal.SIGKILL)
    assert _gone(keeper)
    os.killpg(group, signal.SIGKILL)
    assert _gone(task_pid)


def test_a_sigkilled_run_whose_command_runs_on_is_adopted_not_run_beside_it(
    tmp_path: Path, home: Path, runwatch: Runwatch
) -> None:
    pidfile, release = tmp_path / "pid", tmp_path / "release"
    jobs = write_jobs(
        tmp_path,
        f"jobs:\n  steady:\n    command: 'echo $$ > {pidfile}; "
        f"while [ ! -e {release} ]; do sleep 0.05; done'\n",
    )
    when = "2026-11-24T00:00:00Z"
    proc = _spawn(tmp_path, home, "run", "steady", "--jobs", str(jobs), "--logical-time", when)
    task_pid = int(_wait_for(pidfile))
    proc.kill()
    proc.communicate(timeout=10)

    again = runwatch("run", "steady", "--jobs", str(jobs), "--logical-time", when)
    assert again.returncode == 2, again.stdout + again.stderr
    assert "will be adopted when it ends" in again.stderr
    release.touch()
    assert _gone(task_pid)
    deadline = time.monotonic() + 20
    while runs_json(runwatch)[0]["state"] == "running" and time.monotonic() < deadline:
        time.sleep(0.1)
    (run,) = runs_json(runwatch)
    assert run["state"] == "success"
    shown = json.loads(runwatch("show", str(run["run_id"]), "--format", "json").stdout)
    [attempt] = shown["tasks"][0]["attempts"]
    assert (attempt["state"], attempt["reason"]) == ("success", "adopted after the supervisor died")


def test_sigkilled_run_is_found_orphaned_by_the_next_command_and_resumable(
    tmp_path: Path, home: Path, runwatch: Runwatch
) -> None:
    pidfile, marker = tmp_path / "pid", tmp_path / "second-time"
    jobs = write_jobs(
        tmp_path,
        "jobs:\n  fragile:\n    tasks:\n"
        "      first:\n        command: 'true'\n"
        f"      slow:\n        command: 'test -e {marker} || {{ touch {marker}; "
        f"echo $$ > {pidfile}; exec sleep 60; }}'\n"
        "        after: [first]\n        retries: 1\n",
    )
    when = "2026-11-24T00:00:00Z"
    proc = _spawn(tmp_path, home, "run", "fragile", "--jobs", str(jobs), "--logical-time", when)
    task_pid = int(_wait_for(pidfile))
    _kill_with_its_task(proc, task_pid)

    (run,) = runs_json(runwatch)  # opening the store recovers orphans
    assert run["state"] == "failed"
    assert run["reason"] == "orphaned"
    shown = json.loads(runwatch("show", str(run["run_id"]), "--format", "json").stdout)
    slow = {t["task"]: t for t in shown["tasks"]}["slow"]
    assert slow["attempts"][0]["reason"] == "orphaned"

    resumed = runwatch("run", "fragile", "--jobs", str(jobs), "--logical-time", when)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    shown = json.loads(runwatch("show", str(run["run_id"]), "--format", "json").stdout)
    tasks = {t["task"]: t for t in shown["tasks"]}
    assert [a["state"] for a in tasks["slow"]["attempts"]] == ["failed", "success"]
    assert len(tasks["first"]["attempts"]) == 1


def test_an_orphaned_task_without_retries_left_is_not_resumed(
    tmp_path: Path, home: Path, runwatch: Runwatch
) -> None:
    pidfile = tmp_path / "pid"
    jobs = write_jobs(
        tmp_path,
        f"jobs:\n  fragile:\n    command: 'echo $$ > {pidfile}; exec sleep 60'\n",
    )
    when = "2026-11-24T00:00:00Z"
    proc = _spawn(tmp_path, home, "run", "fragile", "--jobs", str(jobs), "--logical-time", when)
    _kill_with_its_task(proc, int(_wait_for(pidfile)))
    again = runwatch("run", "fragile", "--jobs", str(jobs), "--logical-time", when)
    assert again.returncode == 1
    assert "no task has retries left" in again.stdout
    (run,) = runs_json(runwatch)
    assert run["state"] == "failed"


def test_a_pool_is_shared_by_two_runwatch_processes(
    tmp_path: Path, home: Path, runwatch: Runwatch
) -> None:
    jobs = write_jobs(
        tmp_path,
        "pools: {db: 1}\njobs:\n"
        "  a:\n    tasks:\n      w:\n        command: 'sleep 0.6'\n        pool: db\n"
        "  b:\n    tasks:\n      w:\n        command: 'sleep 0.6'\n        pool: db\n",
    )
    assert runwatch("db", "upgrade").returncode == 0
    procs = [_spawn(tmp_path, home, "run", job, "--jobs", str(jobs)) for job in ("a", "b")]
    for proc in procs:
        proc.communicate(timeout=30)
        assert proc.returncode == 0
    spans = []
    for run in runs_json(runwatch):
        shown = json.loads(runwatch("show", str(run["run_id"]), "--format", "json").stdout)
        attempt = shown["tasks"][0]["attempts"][0]
        spans.append(
            (
                datetime.fromisoformat(attempt["started_at"]),
                datetime.fromisoformat(attempt["finished_at"]),
            )
        )
    first, second = sorted(spans)
    assert second[0] >= first[1], "pool of size 1 let two attempts overlap"


def test_progress_is_live_on_a_terminal_and_plain_lines_when_piped(
    tmp_path: Path, home: Path, runwatch: Runwatch
) -> None:
    jobs = write_jobs(tmp_path, "jobs:\n  t:\n    command: 'true'\n")
    piped = runwatch("run", "t", "--jobs", str(jobs))
    assert "\x1b[" not in piped.stdout
    assert "t.t success (attempt 1)" in piped.stdout

    pid, fd = pty.fork()
    if pid == 0:  # child: becomes runwatch with the pty as its terminal
        os.chdir(tmp_path)
        os.execve(
            sys.executable,
            [sys.executable, "-m", "runner", "run", "t", "--jobs", str(jobs)],
            clean_env(home),
        )
    output = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert b"\x1b[" in output
    assert b"success" in output


def test_prune_deletes_old_runs_and_version_is_printed(tmp_path: Path, runwatch: Runwatch) -> None:
    jobs = write_jobs(tmp_path, "jobs:\n  t:\n    command: 'echo hi'\n")
    assert runwatch("run", "t", "--jobs", str(jobs)).returncode == 0
    kept = runwatch("db", "prune", "--older-than", "1h")
    assert "0 runs" in kept.stdout
    assert len(runs_json(runwatch)) == 1
    time.sleep(0.05)
    pruned = runwatch("db", "prune", "--older-than", "0s")
    assert "1 runs" in pruned.stdout
    assert runs_json(runwatch) == []
    assert runwatch("--version").stdout.startswith("runwatch ")


def test_jobs_shows_the_next_fire_time_in_the_jobs_timezone(
    tmp_path: Path, runwatch: Runwatch
) -> None:
    jobs = write_jobs(
        tmp_path,
        "jobs:\n  berlin:\n    schedule: '30 2 * * *'\n    timezone: Europe/Berlin\n"
        "    command: 'true'\n  adhoc:\n    command: 'true'\n",
    )
    listed = json.loads(runwatch("jobs", "--jobs", str(jobs), "--format", "json").stdout)
    by_name = {j["job"]: j for j in listed}
    next_run = datetime.fromisoformat(by_name["berlin"]["next_run_at"])
    assert (next_run.hour, next_run.minute) == (2, 30)
    assert next_run.utcoffset() is not None
    assert by_name["adhoc"]["next_run_at"] is None
    assert runwatch("pause", "berlin", "--jobs", str(jobs)).returncode == 0
    listed = json.loads(runwatch("jobs", "--jobs", str(jobs), "--format", "json").stdout)
    paused = {j["job"]: j for j in listed}["berlin"]
    assert paused["paused"] is True
    assert paused["next_run_at"] is None


def test_check_rejects_bad_telemetry_settings_naming_them(
    tmp_path: Path, home: Path, runwatch: Runwatch
) -> None:
    jobs = write_jobs(tmp_path, "jobs:\n  t:\n    command: 'true'\n")
    (tmp_path / "runwatch.yaml").write_text("telemetry:\n  trace_url: 'jaeger/{trace_id}'\n")
    result = runwatch("check", "--jobs", str(jobs))
    assert result.returncode == 2
    assert "telemetry.trace_url" in result.stderr
    (tmp_path / "runwatch.yaml").write_text("telemetry: {}\n")
    env = {**clean_env(home), "OTEL_TRACES_EXPORTER": "carrier-pigeon"}
    bad = subprocess.run(
        [sys.executable, "-m", "runner", "check", "--jobs", str(jobs)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 2
    assert "OTEL_TRACES_EXPORTER" in bad.stderr


def test_a_traced_run_shows_its_trace_id_and_link(
    tmp_path: Path, home: Path, runwatch: Runwatch
) -> None:
    jobs = write_jobs(tmp_path, "jobs:\n  t:\n    command: 'true'\n")
    (tmp_path / "runwatch.yaml").write_text(
        "telemetry:\n  trace_url: 'http://tempo.example/trace/{trace_id}'\n"
    )
    env = {**clean_env(home), "OTEL_TRACES_EXPORTER": "console"}
    ran = subprocess.run(
        [sys.executable, "-m", "runner", "run", "t", "--jobs", str(jobs)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    (run,) = runs_json(runwatch)
    trace_id = str(run["trace_id"])
    assert len(trace_id) == 32
    shown = runwatch("show", str(run["run_id"]))
    assert f"http://tempo.example/trace/{trace_id}" in shown.stdout


def test_check_rejects_a_bad_executor_section_naming_the_key(
    tmp_path: Path, runwatch: Runwatch
) -> None:
    jobs = write_jobs(tmp_path, "jobs:\n  t:\n    command: 'true'\n")
    (tmp_path / "runwatch.yaml").write_text(
        "executor:\n  kind: celery\n  broker_url: redis://127.0.0.1:6379/0\n"
        "  heartbeat_interval: soon\n"
    )
    result = runwatch("check", "--jobs", str(jobs))
    assert result.returncode == 2
    assert "executor" in result.stderr
    assert "heartbeat_interval" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_rerun_of_a_mapped_task_repeats_only_its_failed_instances(
    tmp_path: Path, runwatch: Runwatch
) -> None:
    marker, log = tmp_path / "fixed", tmp_path / "log.txt"
    jobs = write_jobs(
        tmp_path,
        "jobs:\n  daily:\n    tasks:\n"
        '      list:\n        command: echo \'["a", "b", "c"]\' > "$RUNWATCH_RESULT"\n'
        "      each:\n        map_over: list\n"
        f"        command: 'echo $RUNWATCH_MAP_ITEM >> {log}; "
        f"test $RUNWATCH_MAP_INDEX != 1 || test -e {marker}'\n",
    )
    when = "2026-11-24T02:00:00+00:00"
    second = _fail_then_fix(runwatch, jobs, when, marker)
    assert "rerunning each" in second.stdout
    assert sorted(log.read_text().split()) == ['"a"', '"b"', '"b"', '"c"']
    forced = runwatch("run", "daily", "--jobs", str(jobs), "--logical-time", when, "--force")
    assert forced.returncode == 0, forced.stderr
    assert len(log.read_text().split()) == 7


def test_example_fanout_maps_over_the_files_or_takes_the_empty_branch(
    tmp_path: Path, runwatch: Runwatch
) -> None:
    shutil.copytree(REPO / "examples" / "fanout", tmp_path / "fanout")
    jobs = tmp_path / "fanout.yaml"
    shutil.copy(REPO / "examples" / "fanout.yaml", jobs)
    full = runwatch("run", "daily-files", "--jobs", str(jobs), "--format", "json")
    assert full.returncode == 0, full.stderr
    states = {t["task"]: t["state"] for t in json.loads(full.stdout)["tasks"]}
    assert (states["wait_files"], states["notify_empty"]) == ("success", "skipped")
    assert states["summary"] == "success"
    totals = json.loads((tmp_path / "output" / "fanout" / "totals.json").read_text())
    assert totals == [
        {"file": "north.csv", "total": 15.0},
        {"file": "south.csv", "total": 7.0},
        {"file": "west.csv", "total": 6.0},
    ]
    for csv_file in (tmp_path / "fanout" / "in").glob("*.csv"):
        csv_file.unlink()
    empty = runwatch("run", "daily-files", "--jobs", str(jobs), "--format", "json")
    assert empty.returncode == 0, empty.stderr
    states = {t["task"]: t["state"] for t in json.loads(empty.stdout)["tasks"]}
    assert (states["process"], states["load"]) == ("skipped", "skipped")
    assert (states["notify_empty"], states["summary"]) == ("success", "success")
    after = runwatch("run", "daily-report", "--jobs", str(jobs), "--format", "json")
    assert after.returncode == 0, after.stderr
    assert [t["state"] for t in json.loads(after.stdout)["tasks"]] == ["success", "success"]


def test_jobs_shows_what_a_dependent_job_waits_for(tmp_path: Path, runwatch: Runwatch) -> None:
    jobs = write_jobs(
        tmp_path,
        "jobs:\n  ingest:\n    command: 'true'\n  enrich:\n    command: 'true'\n"
        "  report:\n    schedule: {after: [ingest, enrich]}\n    command: 'true'\n",
    )
    assert runwatch("run", "ingest", "--jobs", str(jobs)).returncode == 0
    listed = runwatch("jobs", "--jobs", str(jobs))
    assert listed.returncode == 0, listed.stderr
    (line,) = [row for row in listed.stdout.splitlines() if row.startswith("report")]
    assert "after ingest, enrich (per day)" in line
    assert "waits for enrich" in line
    records = json.loads(runwatch("jobs", "--jobs", str(jobs), "--format", "json").stdout)
    (report,) = [r for r in records if r["job"] == "report"]
    assert report["waiting_for"] == ["enrich"]
    assert runwatch("run", "enrich", "--jobs", str(jobs)).returncode == 0
    records = json.loads(runwatch("jobs", "--jobs", str(jobs), "--format", "json").stdout)
    assert [r["waiting_for"] for r in records if r["job"] == "report"] == [[]]


def test_a_run_collects_garbage_while_it_runs_with_its_modules_frozen(
    tmp_path: Path, runwatch: Runwatch
) -> None:
    jobs = tmp_path / "collector.py"
    jobs.write_text(
        "import gc\n"
        "from runner import job, task\n\n\n"
        "@task(in_process=True)\n"
        "def probe() -> None:\n"
        "    if not gc.isenabled():\n"
        "        raise RuntimeError('the collector is off during the run')\n"
        "    if gc.get_freeze_count() == 0:\n"
        "        raise RuntimeError('the modules imported at the start were not frozen')\n\n\n"
        "@job()\n"
        "def collector() -> None:\n"
        "    probe()\n"
    )
    result = runwatch("run", "collector", "--jobs", str(jobs))
    assert result.returncode == 0, result.stdout + result.stderr
