"""Tasks do not inherit runwatch's secrets unless ``env_inherit:`` says so; outcomes are
redacted of secrets before anyone records them."""

from __future__ import annotations

import json
import os
import queue
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.definitions import load_definitions
from runner.engine.executor import Message
from runner.errors import DefinitionError
from runner.executors.local.executor import LocalExecutor
from runner.model import Task
from runner.redaction import REDACTED, Redactor
from runner.taskenv import ALL, WITHHELD, TaskEnvironment
from tests.runner.engine.conftest import Attempts

RUNWATCH_ENV = {
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    "HOME": "/home/tester",
    "RUNWATCH_DB_URL": "postgresql://rw:db-password-1@db/runs",
    "PGPASSWORD": "pg-password-2",
    "RUNWATCH_CELERY_BROKER_URL": "redis://:broker-password-3@broker:6379/0",
    "OTEL_EXPORTER_OTLP_HEADERS": "authorization=Bearer otlp-token-4",
    "OPENLINEAGE_API_KEY": "lineage-key-6",
    "SLACK_WEBHOOK_URL": "https://hooks.slack.test/services/T1/B2/slack-part-5",
    "HARMLESS": "visible",
}
INTERPOLATED = ("SLACK_WEBHOOK_URL",)
SECRET_NAMES = {*WITHHELD, *INTERPOLATED} & set(RUNWATCH_ENV)


def print_environment() -> None:
    """A Python task that prints its whole environment as JSON."""
    print(json.dumps(dict(os.environ)))


@pytest.fixture
def attempts(tmp_path: Path) -> Iterator[Attempts]:
    """A LocalExecutor started from RUNWATCH_ENV as runwatch's own environment."""
    messages: queue.SimpleQueue[Message] = queue.SimpleQueue()
    environment = TaskEnvironment.of(RUNWATCH_ENV, INTERPOLATED)
    redactor = Redactor(RUNWATCH_ENV[name] for name in ("PGPASSWORD", "SLACK_WEBHOOK_URL"))
    old = {name: os.environ.get(name) for name in RUNWATCH_ENV}
    os.environ.update(RUNWATCH_ENV)  # Python workers are forked from this process
    executor = LocalExecutor(messages, python_workers=1, environment=environment, redactor=redactor)
    try:
        yield Attempts(executor, messages, tmp_path / "logs")
    finally:
        executor.shutdown()
        for name, value in old.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _command_env(attempts: Attempts, task: Task, **changes: object) -> dict[str, str]:
    spec = attempts.submit(task, **changes)
    assert attempts.finished(spec).exit_code == 0
    assert spec.stdout_path is not None
    lines = spec.stdout_path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def _python_env(attempts: Attempts, task: Task) -> dict[str, str]:
    spec = attempts.submit(task)
    assert attempts.finished(spec).result is None
    assert spec.stdout_path is not None
    text = spec.stdout_path.read_text().splitlines()[-1]
    env: dict[str, str] = json.loads(text)
    return env


def test_a_command_task_gets_runwatchs_environment_without_its_secrets(
    attempts: Attempts,
) -> None:
    env = _command_env(attempts, Task("t", command=("env",)))

    assert env["HARMLESS"] == "visible"
    assert SECRET_NAMES.isdisjoint(env)


def test_env_inherit_keeps_the_named_secrets_only(attempts: Attempts) -> None:
    env = _command_env(attempts, Task("t", command=("env",), env_inherit=("PGPASSWORD",)))

    assert env["PGPASSWORD"] == "pg-password-2"
    assert (SECRET_NAMES - {"PGPASSWORD"}).isdisjoint(env)


def test_env_inherit_all_keeps_everything(attempts: Attempts) -> None:
    env = _command_env(attempts, Task("t", command=("env",), env_inherit=ALL))

    assert {name: env[name] for name in SECRET_NAMES} == {n: RUNWATCH_ENV[n] for n in SECRET_NAMES}


def test_an_attempts_own_env_is_set_even_for_a_withheld_name(attempts: Attempts) -> None:
    env = _command_env(attempts, Task("t", command=("env",)), env={"PGPASSWORD": "own"})

    assert env["PGPASSWORD"] == "own"


def test_a_python_worker_task_does_not_see_the_secrets_and_gets_back_only_what_it_keeps(
    attempts: Attempts,
) -> None:
    plain = _python_env(attempts, Task("t", python=print_environment))
    keeping = _python_env(
        attempts, Task("t", python=print_environment, env_inherit=("SLACK_WEBHOOK_URL",))
    )
    after = _python_env(attempts, Task("t", python=print_environment))  # the same worker

    assert plain["HARMLESS"] == "visible"
    assert SECRET_NAMES.isdisjoint(plain)
    assert keeping["SLACK_WEBHOOK_URL"] == RUNWATCH_ENV["SLACK_WEBHOOK_URL"]
    assert SECRET_NAMES.isdisjoint(after)


def test_a_failing_tasks_error_tail_is_redacted_before_it_is_reported(
    attempts: Attempts,
) -> None:
    script = (
        "import sys; print('connect failed: password pg-password-2', file=sys.stderr);"
        " print('POST /services/T1/B2/slack-part-5 -> 500', file=sys.stderr); sys.exit(3)"
    )
    finished = attempts.run(Task("t", command=(sys.executable, "-c", script)))

    assert finished.exit_code == 3
    assert finished.error is not None
    assert "pg-password-2" not in finished.error
    assert "slack-part-5" not in finished.error
    assert finished.error.count(REDACTED) == 2


def test_env_inherit_is_validated_in_job_files(tmp_path: Path) -> None:
    path = tmp_path / "jobs.yaml"
    path.write_text(
        "defaults:\n  env_inherit: [PGPASSWORD]\n"
        "jobs:\n"
        "  backup:\n    command: pg_dump\n"
        "  everything:\n    command: env\n    env_inherit: all\n"
    )
    jobs = load_definitions([path]).jobs

    assert jobs["backup"].tasks["backup"].env_inherit == ("PGPASSWORD",)
    assert jobs["everything"].tasks["everything"].env_inherit == ALL

    path.write_text("jobs:\n  bad:\n    command: env\n    env_inherit: [not-a-name]\n")
    with pytest.raises(DefinitionError) as caught:
        load_definitions([path])
    assert "env_inherit" in str(caught.value)
    assert "'not-a-name' is not a variable name" in str(caught.value)
