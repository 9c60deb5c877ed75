"""The ``executor:`` section, the attempt message, and the package's public names."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

import runner.executors.celery
from runner.config import load_settings
from runner.engine.executor import AttemptSpec
from runner.errors import DefinitionError
from runner.executors.celery import celery_settings, executor_kind
from runner.executors.celery.message import (
    AttemptMessage,
    AttemptSource,
    MessageError,
    task_digest,
    trace_context,
)
from runner.executors.celery.signing import sign, signature_problem
from runner.model import Job, RunState, Task, TaskState, Trigger
from runner.secret import Secret
from runner.store.records import AttemptRecord, RunRecord


def test_the_executor_section_gives_the_broker_queue_and_intervals(tmp_path: Path) -> None:
    (tmp_path / "runwatch.yaml").write_text(
        "executor:\n  kind: celery\n  broker_url: redis://:pw@broker:6379/0\n"
        "  queue: etl\n  heartbeat_interval: 2s\n  orphan_after: 1m\n"
    )
    settings = load_settings(None, env={}, cwd=tmp_path)
    parsed = celery_settings(settings, {})
    assert executor_kind(settings) == "celery"
    assert (parsed.queue, parsed.heartbeat_interval, parsed.orphan_after) == ("etl", 2.0, 60.0)
    assert parsed.broker_redacted == "redis://:***@broker:6379/0"
    assert "pw" not in repr(parsed)


def test_the_broker_url_variable_wins_over_the_file(tmp_path: Path) -> None:
    (tmp_path / "runwatch.yaml").write_text("executor: {kind: celery, broker_url: redis://a}\n")
    settings = load_settings(None, env={}, cwd=tmp_path)
    env = {"RUNWATCH_CELERY_BROKER_URL": "amqp://guest@b:5672//"}
    assert celery_settings(settings, env).broker_url.reveal() == "amqp://guest@b:5672//"


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("{kind: celery}", "key 'executor.broker_url': required"),
        ("{kind: dask}", "key 'executor.kind': expected one of local, celery, got 'dask'"),
        ("{kind: celery, broker_url: 'http://x'}", "expected a redis:// or amqp:// URL"),
        ("{kind: celery, broker_url: 'redis://x', result_backend: x}", "unknown key"),
        (
            "{kind: celery, broker_url: 'redis://x', claim_timeout: 0s}",
            "key 'executor.claim_timeout': must be at least 1s, got 0s",
        ),
        ("{kind: local, queu: x}", "unknown key 'queu' (did you mean 'queue'?)"),
        (
            "{kind: celery, broker_url: 'redis://x', heartbeat_interval: 11s}",
            "key 'executor.orphan_after': must be at least three heartbeat intervals",
        ),
    ],
)
def test_a_bad_executor_section_is_named_in_the_error(
    tmp_path: Path, section: str, message: str
) -> None:
    (tmp_path / "runwatch.yaml").write_text(f"executor: {section}\n")
    settings = load_settings(None, env={}, cwd=tmp_path)
    with pytest.raises(DefinitionError, match=r"runwatch\.yaml") as caught:
        celery_settings(settings, {})
    assert message in str(caught.value)


def test_an_attempt_message_survives_json_and_rejects_other_versions(tmp_path: Path) -> None:
    traceparent = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
    task = Task("load", command=("load.sh",), queue="gpu", env={"MODE": "full"}, after=("x",))
    job = Job("etl", {"load": task}, kill_grace=2.0, params={"day": "sunday"})
    logical_time = datetime(2026, 11, 25, 3, tzinfo=UTC)
    run = RunRecord(
        id=3, job="etl", logical_time=logical_time, trigger=Trigger.MANUAL,
        state=RunState.RUNNING, queued_at=logical_time, started_at=None, finished_at=None,
        reason=None, trace_id=None, supervisor=None, params={"day": "monday"},
    )  # fmt: skip
    attempt = AttemptRecord(
        id=7, run_id=3, job="etl", task="load", number=2, state=TaskState.RUNNING,
        started_at=logical_time, finished_at=None, exit_code=None, signal=None, pid=None,
        supervisor=None, reason=None, error=None, result=None, stdout_path="/elsewhere",
        stderr_path=None, pool=None, span_id=None,
    )  # fmt: skip
    spec = AttemptSpec(
        key=7,
        job="etl",
        task=task,
        run_id=3,
        attempt=2,
        logical_time=logical_time,
        env={
            "RUNWATCH_JOB": "etl",
            "RUNWATCH_TASK": "load",
            "RUNWATCH_RUN_ID": "3",
            "RUNWATCH_LOGICAL_TIME": "2026-11-25T03:00:00+00:00",
            "RUNWATCH_ATTEMPT": "2",
            "RUNWATCH_PARAM_DAY": "monday",
            "MODE": "full",
            "TRACEPARENT": traceparent,
        },
        stdout_path=tmp_path / "etl/3/load.2.out",
        stderr_path=tmp_path / "etl/3/load.2.err",
        upstream_results={"x": {"rows": 3}},
        kill_grace=2.0,
        log_cap_bytes=1024,
    )
    message = AttemptMessage.from_spec(spec, "gpu")
    payload = json.loads(json.dumps(message.to_payload()))
    source = AttemptSource(attempt, run, {"x": {"rows": 3}}, tmp_path, 1024)
    assert AttemptMessage.from_payload(payload).to_spec(job, task, source) == spec
    with pytest.raises(MessageError, match="version"):
        AttemptMessage.from_payload({**payload, "v": 99})
    with pytest.raises(MessageError, match="malformed"):
        AttemptMessage.from_payload({"v": payload["v"]})


def test_a_message_carries_only_a_well_formed_trace_context() -> None:
    traceparent = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
    env = {
        "PATH": "/tmp/evil",
        "LD_PRELOAD": "/tmp/evil.so",
        "RUNWATCH_PARAM_DAY": "monday",
        "TRACEPARENT": traceparent,
        "TRACESTATE": "vendor=1",
    }
    assert trace_context(env) == {"TRACEPARENT": traceparent, "TRACESTATE": "vendor=1"}
    assert trace_context({"TRACEPARENT": "x\ny"}) == {}


def test_a_task_digest_changes_with_the_command_but_not_with_variable_values() -> None:
    task = Task("load", command="load.sh", env={"TOKEN": "one"})
    assert task_digest(task) == task_digest(replace(task, env={"TOKEN": "two"}))
    assert task_digest(task) != task_digest(replace(task, command="touch pwned"))
    assert task_digest(task) != task_digest(replace(task, env={"PATH": "one"}))


def test_the_public_names_are_exactly_what_the_package_exports() -> None:
    public = {n for n in dir(runner.executors.celery) if not n.startswith("_")}
    modules = {
        "adoption",
        "app",
        "executor",
        "kinds",
        "message",
        "recovery",
        "settings",
        "signing",
        "worker",
    }
    assert public - modules == set(runner.executors.celery.__all__)
    assert all(
        getattr(runner.executors.celery, n) is not None for n in runner.executors.celery.__all__
    )


def test_a_short_signing_key_is_refused_without_showing_it(tmp_path: Path) -> None:
    (tmp_path / "runwatch.yaml").write_text(
        "executor:\n  kind: celery\n  broker_url: redis://x\n  signing_key: ${KEY}\n"
    )
    settings = load_settings(None, env={"KEY": "hunter2-hunter2"}, cwd=tmp_path)
    with pytest.raises(DefinitionError, match=r"key 'executor\.signing_key'") as caught:
        celery_settings(settings, {})
    assert "at least 32 characters" in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_a_signature_is_valid_only_for_the_key_and_the_exact_message() -> None:
    key, other = Secret("s" * 32), Secret("t" * 32)
    payload = {"v": 2, "job": "etl", "env": {"RUNWATCH_PARAM_DAY": "monday"}}
    signed = sign(payload, key)
    assert signature_problem(json.loads(json.dumps(signed)), key) is None
    assert signature_problem(signed, other) is not None
    assert signature_problem({**signed, "job": "other"}, key) is not None
    assert signature_problem(payload, key) is not None
