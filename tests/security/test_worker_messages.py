"""Attacks on `runwatch worker` through the broker: a message edited or forged by someone
with write access to the queue, against real workers on Redis and RabbitMQ."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from runner.clock import utcnow
from runner.definitions import load_definitions
from runner.engine.executor import AttemptSpec
from runner.executors.celery.app import TASK_NAME, create_app
from runner.executors.celery.message import AttemptMessage
from runner.executors.celery.settings import CelerySettings
from runner.model import RunState, Trigger
from runner.secret import Secret
from runner.store.leases import lease
from runner.store.records import AttemptRecord
from tests.distributed.conftest import AMQP_URL, REDIS_URL, Cluster, _cluster, wait_until
from tests.distributed.test_workers import Dispatcher

LOGICAL_TIME = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
SIGNING_KEY = "k" * 40
_RUNS = itertools.count()


@pytest.fixture(params=["redis", "rabbitmq"])
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    """A deployment on PostgreSQL and each broker."""
    yield from _cluster(tmp_path, REDIS_URL if request.param == "redis" else AMQP_URL)


@pytest.fixture
def redis_cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A deployment on PostgreSQL and Redis."""
    yield from _cluster(tmp_path, REDIS_URL)


@pytest.fixture
def signed_cluster(redis_cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> Cluster:
    """A Redis deployment whose one job's messages must be signed (key in the env)."""
    monkeypatch.setenv("TEST_SIGNING_KEY", SIGNING_KEY)
    redis_cluster.write_config(
        "jobs:\n  tool:\n    tasks:\n      who:\n        command: 'id -u'\n",
        "  signing_key: ${TEST_SIGNING_KEY}\n",
    )
    return redis_cluster


def dispatch_by_hand(
    cluster: Cluster, jobs_file: Path, job: str, task: str
) -> tuple[AttemptRecord, dict[str, Any]]:
    """Record a run and an attempt as a scheduler would; return the attempt and the body
    of the message a scheduler would send for it (unsigned)."""
    definitions = load_definitions([jobs_file]).jobs
    with cluster.store() as store:
        store.sync_jobs(definitions.values(), utcnow())
        logical_time = LOGICAL_TIME + timedelta(minutes=next(_RUNS))
        run = store.create_run(definitions[job], logical_time, Trigger.MANUAL, utcnow())
        assert run is not None
        attempt = store.start_attempt(run, task, utcnow(), log_dir=cluster.tmp / "sched-logs")
    assert attempt is not None
    spec = AttemptSpec(
        key=attempt.id,
        job=job,
        task=definitions[job].tasks[task],
        run_id=run.id,
        attempt=attempt.number,
        logical_time=logical_time,
        env={"RUNWATCH_JOB": job, "RUNWATCH_TASK": task},
        stdout_path=Path(attempt.stdout_path or ""),
        stderr_path=Path(attempt.stderr_path or ""),
    )
    return attempt, AttemptMessage.from_spec(spec, cluster.queue).to_payload()


def publish(cluster: Cluster, payload: dict[str, Any]) -> None:
    """Put a message on the workers' queue, as anyone with broker write access can."""
    app = create_app(CelerySettings(Secret(cluster.broker_url), cluster.queue))
    app.send_task(TASK_NAME, args=[payload], queue=cluster.queue)


def outcome_of(cluster: Cluster, attempt_id: int) -> dict[str, Any]:
    """Wait for a worker to decide the attempt; its stored outcome."""
    with cluster.store() as store:
        wait_until(
            lambda: (found := lease(store, attempt_id)) is not None and found.outcome is not None,
            f"a worker to decide attempt {attempt_id}",
        )
        found = lease(store, attempt_id)
    assert found is not None
    assert found.outcome is not None
    return dict(found.outcome)


def test_an_edited_message_cannot_inject_path_or_choose_where_output_is_written(
    cluster: Cluster,
) -> None:
    evil = cluster.tmp / "evil"
    evil.mkdir()
    pwned = cluster.tmp / "pwned"
    (evil / "id").write_text(f"#!/bin/sh\ntouch {pwned}\n")
    (evil / "id").chmod(0o755)
    victim = cluster.tmp / "root-owned.conf"
    victim.write_text("precious\n")
    cluster.write_config("jobs:\n  tool:\n    tasks:\n      who:\n        command: 'id -u'\n")
    cluster.worker(concurrency=1)
    attempt, payload = dispatch_by_hand(cluster, cluster.tmp / "jobs.yaml", "tool", "who")
    injected = {"PATH": f"{evil}:/usr/bin:/bin", "LD_PRELOAD": "x.so", "RUNWATCH_PARAM_X": "1"}
    payload["env"] = payload["trace"] = injected  # version 1 carried "env"
    payload["stdout_path"] = payload["stderr_path"] = str(victim)
    payload["logical_time"], payload["attempt"], payload["run_id"] = "1970-01-01", 9, 1

    publish(cluster, payload)

    outcome = outcome_of(cluster, attempt.id)
    assert outcome["state"] == "success", outcome
    assert not pwned.exists(), "the command ran with the message's PATH"
    assert victim.read_text() == "precious\n", "the message chose the log file"
    own_log = cluster.tmp / "home" / "logs" / "tool" / str(attempt.run_id) / "who.1.out"
    assert own_log.read_text().strip() == "0", "output goes under the worker's own home"
    with cluster.store() as store:
        assert store.get_attempt(attempt.id).stdout_path == str(own_log), "and is recorded"


def test_a_message_for_a_command_the_worker_does_not_define_is_refused(
    redis_cluster: Cluster,
) -> None:
    cluster = redis_cluster
    pwned = cluster.tmp / "pwned"
    cluster.write_config("jobs:\n  tool:\n    tasks:\n      who:\n        command: 'id -u'\n")
    (cluster.tmp / "other.yaml").write_text(
        f"jobs:\n  tool:\n    tasks:\n      who:\n        command: 'touch {pwned}'\n"
    )
    worker = cluster.worker(concurrency=1)
    attempt, payload = dispatch_by_hand(cluster, cluster.tmp / "other.yaml", "tool", "who")

    publish(cluster, payload)

    outcome = outcome_of(cluster, attempt.id)
    assert (outcome["state"], outcome["reason"]) == ("failed", "definition mismatch"), outcome
    assert "differs from this worker's definition" in outcome["error"]
    assert not pwned.exists()
    worker.wait_for_output("definition mismatch", "the worker to log the refusal", 10)


def test_a_message_that_names_another_job_than_its_attempt_is_refused(
    redis_cluster: Cluster,
) -> None:
    cluster = redis_cluster
    pwned = cluster.tmp / "pwned"
    cluster.write_config(
        "jobs:\n  tool:\n    tasks:\n      who:\n        command: 'id -u'\n"
        f"  wipe:\n    tasks:\n      all:\n        command: 'touch {pwned}'\n"
    )
    cluster.worker(concurrency=1)
    attempt, _ = dispatch_by_hand(cluster, cluster.tmp / "jobs.yaml", "tool", "who")
    _, other = dispatch_by_hand(cluster, cluster.tmp / "jobs.yaml", "wipe", "all")
    other["attempt_id"] = attempt.id  # the "wipe" message, aimed at the "tool" attempt

    publish(cluster, other)

    outcome = outcome_of(cluster, attempt.id)
    assert (outcome["state"], outcome["reason"]) == ("failed", "rejected message"), outcome
    assert not pwned.exists()


def test_with_a_signing_key_an_unsigned_message_fails_its_attempt_with_a_reason(
    signed_cluster: Cluster,
) -> None:
    cluster = signed_cluster
    worker = cluster.worker(concurrency=1)
    unsigned, payload = dispatch_by_hand(cluster, cluster.tmp / "jobs.yaml", "tool", "who")
    publish(cluster, payload)
    forged, payload = dispatch_by_hand(cluster, cluster.tmp / "jobs.yaml", "tool", "who")
    payload["sig"] = secrets.token_hex(32)
    publish(cluster, payload)

    for attempt in (unsigned, forged):
        outcome = outcome_of(cluster, attempt.id)
        assert (outcome["state"], outcome["reason"]) == ("failed", "rejected message"), outcome
        assert "signature" in outcome["error"]
    worker.wait_for_output("rejected a message", "the worker to log the rejection", 10)
    assert not (cluster.tmp / "home" / "logs" / "tool").exists(), "nothing ran"
    assert SIGNING_KEY not in worker.output()


def test_with_a_signing_key_the_schedulers_signed_messages_run(
    signed_cluster: Cluster,
) -> None:
    cluster = signed_cluster
    cluster.worker(concurrency=1)
    dispatcher = Dispatcher(cluster)
    try:
        run = dispatcher.create_run("tool")
        finished = dispatcher.engine.execute(dispatcher.job("tool"), run)
    finally:
        dispatcher.close()
    assert finished.state is RunState.SUCCESS, finished.reason


def test_a_worker_withholds_what_its_runwatch_yaml_interpolated_from_tasks(
    redis_cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "worker-secret-" + secrets.token_hex(8)
    monkeypatch.setenv("W_SECRET", secret)
    redis_cluster.write_config(
        "jobs:\n  leak:\n    tasks:\n      env:\n"
        '        command: \'echo "v=$W_SECRET"; echo "$W_SECRET" >&2; exit 3\'\n',
        "dashboard:\n  url: https://runwatch.example/${W_SECRET}\n",
    )
    redis_cluster.worker(concurrency=1)
    dispatcher = Dispatcher(redis_cluster)
    try:
        run = dispatcher.create_run("leak")
        finished = dispatcher.engine.execute(dispatcher.job("leak"), run)
        with redis_cluster.store() as store:
            (attempt,) = store.attempts(run.id)
    finally:
        dispatcher.close()

    assert finished.state is RunState.FAILED
    assert attempt.stdout_path is not None
    assert Path(attempt.stdout_path).read_text() == "v=\n"
    assert secret not in (attempt.error or "") + (attempt.reason or "")
