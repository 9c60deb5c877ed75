"""Cases of issue 21's bad-input corpus, driven through the CLI: each is exit 2 with the
file, line and key named, never a traceback, and bounded (a "billion laughs" document
is refused before its aliases are expanded, instead of growing to a MemoryError).
docs/reliability.md lists every case with its test."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from runner.definitions.yamlsource import MAX_YAML_NODES
from tests.e2e.cli import clean_env, run_cli

LAUGHS = [f"&l{n} [{', '.join([f'*l{n - 1}'] * 9)}]" for n in range(1, 9)]
"""Eight levels of nine aliases each over a list of nine strings: 387 million values."""


def _laughs(indent: str) -> str:
    """The levels as YAML list items at ``indent``, the first one plain strings."""
    items = [f"&l0 [{', '.join(['lol'] * 9)}]", *LAUGHS]
    return "".join(f"{indent}- {item}\n" for item in items)


def _runwatch(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(tmp_path, clean_env(tmp_path / "home"), *args)


def _refused(result: subprocess.CompletedProcess[str], said: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert said in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


ALIASES = f"YAML aliases expand to more than {MAX_YAML_NODES:,} values: not read"


def test_a_billion_laughs_runwatch_yaml_is_refused_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "runwatch.yaml").write_text("x-laughs:\n" + _laughs("  "))

    _refused(_runwatch(tmp_path, "check"), f"runwatch.yaml:8: {ALIASES}")


def test_billion_laughs_in_a_tasks_args_are_refused_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "jobs.yaml").write_text(
        "jobs:\n  etl:\n    python: tasks:load\n    args:\n" + _laughs("      ")
    )

    _refused(_runwatch(tmp_path, "check", "--jobs", "jobs.yaml"), f"jobs.yaml:11: {ALIASES}")


def test_a_billion_laughs_rules_file_for_replay_is_refused_naming_it(tmp_path: Path) -> None:
    (tmp_path / "runwatch.yaml").write_text('jobs:\n  etl:\n    command: "true"\n')
    (tmp_path / "rules.yaml").write_text(_laughs(""))

    result = _runwatch(tmp_path, "alerts", "replay", "--rules", "rules.yaml")

    _refused(result, f"rules.yaml:7: {ALIASES}")


@pytest.mark.parametrize(
    ("job", "said"),
    [
        ('  etl:\n    command: "echo a\\0b"\n', "key 'command': a command cannot contain a NUL"),
        (f'  {"j" * 300}:\n    command: "true"\n', "job name can be at most 200 characters"),
        ('  etl:\n    comand: "true"\n', "unknown key 'comand' (did you mean 'command'?)"),
        (
            "  etl:\n    tasks:\n      ls: {command: ls}\n"
            "      each: {command: 'true', map_over: lst}\n",
            "job 'etl', task 'each', key 'map_over': unknown task 'lst' to map over "
            "(did you mean 'ls'?)",
        ),
        (
            "  etl:\n    tasks:\n      wait: {sensor: {file: /in/x}}\n",
            "job 'etl', task 'wait', key 'sensor': a sensor needs 'timeout'",
        ),
        (
            "  etl:\n    tasks:\n      ls: {command: ls, branch_on_exit: {3: [nope]}}\n",
            "job 'etl', task 'ls', key 'branch_on_exit.3': task 'nope' is not a direct "
            "downstream task of 'ls'",
        ),
    ],
    ids=[
        "nul-byte-in-a-command",
        "300-character-job-name",
        "comand-typo",
        "unknown-map-over",
        "sensor-without-timeout",
        "branch-to-a-stranger",
    ],
)
def test_check_refuses_a_bad_job_naming_the_file_line_and_key(
    tmp_path: Path, job: str, said: str
) -> None:
    (tmp_path / "runwatch.yaml").write_text("jobs:\n" + job)

    result = _runwatch(tmp_path, "check")

    _refused(result, said)
    assert f"{tmp_path / 'runwatch.yaml'}:" in result.stderr


JOB = '  etl:\n    command: "true"\n'
RANGE = "a duration can be at most 3650d (ten years)"


@pytest.mark.parametrize(
    ("settings", "said"),
    [
        ("server:\n  heartbeat_interval: .inf\n", f"key 'server.heartbeat_interval': {RANGE}"),
        ("server:\n  watch_interval: 999999999999w\n", f"key 'server.watch_interval': {RANGE}"),
        (
            "executor:\n  kind: celery\n  broker_url: redis://127.0.0.1:6379/0\n"
            "  claim_timeout: .nan\n",
            "key 'executor.claim_timeout': expected a duration such as 30s, 5m or 2h, got nan",
        ),
        (
            "alerting:\n  receivers: {ops: {log: {}}}\n"
            "  route: {receiver: ops, repeat_interval: 999999999999w}\n",
            f"alerting.route.repeat_interval: {RANGE}",
        ),
        ("defaults:\n  timeout: .inf\n", f"key 'defaults.timeout': {RANGE}, got inf"),
        ("pools:\n  db: 99999999999999999999\n", "key 'pools.db': expected a whole number of at"),
        (
            "jobs:\n  etl:\n    command: 'true'\n    retry_delay: -.inf\n",
            "job 'etl', key 'retry_delay': a duration cannot be negative, got -inf",
        ),
    ],
    ids=["heartbeat", "watch", "claim-timeout", "repeat-interval", "defaults", "pool", "job"],
)
def test_check_refuses_an_out_of_range_setting_in_runwatch_yaml_naming_the_key(
    tmp_path: Path, settings: str, said: str
) -> None:
    text = settings if settings.startswith("jobs:") else f"{settings}jobs:\n{JOB}"
    (tmp_path / "runwatch.yaml").write_text(text)

    _refused(_runwatch(tmp_path, "check"), said)


@pytest.mark.parametrize(
    ("options", "said"),
    [
        ('@job(schedule="@daily", timeout=float("inf"))', f"job 'etl', key 'timeout': {RANGE}"),
        ("@job(max_active_runs=10**20)", "key 'max_active_runs': expected a whole number of at"),
    ],
    ids=["timeout-inf", "huge-int"],
)
def test_check_refuses_an_out_of_range_value_in_a_python_job_naming_the_key(
    tmp_path: Path, options: str, said: str
) -> None:
    (tmp_path / "jobs.py").write_text(
        f"from runner import job, command\n\n{options}\ndef etl():\n    command('true')\n"
    )

    result = _runwatch(tmp_path, "check", "--jobs", "jobs.py")

    _refused(result, said)
    assert "jobs.py:3: " in result.stderr


@pytest.mark.parametrize(
    ("task", "job", "said"),
    [
        (', timeout=float("inf")', "", f"job 'etl', task 't', key 'timeout': {RANGE}"),
        ("", ', schedule="61 * * * *"', "job 'etl', key 'schedule': schedule '61 * * * *'"),
        (
            "",
            ', schedule="@daily", timezone="Mars/Olympus"',
            "job 'etl', key 'timezone': unknown timezone",
        ),
    ],
    ids=["timeout-inf", "schedule", "timezone"],
)
def test_check_refuses_a_model_job_built_in_python_naming_the_key(
    tmp_path: Path, task: str, job: str, said: str
) -> None:
    # A runner.model.Job skips the @job checks; check runs the checks serve runs per job.
    (tmp_path / "jobs.py").write_text(
        "from runner.model import Job, Task\n\n"
        f'etl = Job(name="etl", tasks={{"t": Task("t", command="true"{task})}}{job})\n'
    )

    result = _runwatch(tmp_path, "check", "--jobs", "jobs.py")

    _refused(result, f"runwatch: error: jobs.py: {said}")


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("backfill", "etl", "--from", "2026-01-01", "--to", "2026-01-02"), 2),
        (("schedule-preview", "etl"), 2),
        (("jobs",), 0),
    ],
    ids=["backfill", "schedule-preview", "jobs"],
)
def test_commands_on_a_python_job_whose_schedule_cannot_run_name_it_or_pass_it_over(
    tmp_path: Path, args: tuple[str, ...], code: int
) -> None:
    (tmp_path / "jobs.py").write_text(
        "from runner.model import Job, Task\n\n"
        'etl = Job(name="etl", schedule="61 * * * *", tasks={"t": Task("t", command="true")})\n'
    )
    env = clean_env(tmp_path / "home")
    assert run_cli(tmp_path, env, "trigger", "etl", "--jobs", "jobs.py").returncode == 0

    result = run_cli(tmp_path, env, *args, "--jobs", "jobs.py")

    assert result.returncode == code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert "internal error" not in result.stderr
    if code == 2:
        assert "jobs.py: job 'etl', key 'schedule': schedule '61 * * * *'" in result.stderr
