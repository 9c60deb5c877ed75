"""The ``executor:`` section, the attempt message, and the package's public names."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

import runner.distributed
from runner.config import load_settings
from runner.distributed import celery_settings, executor_kind
from runner.distributed.message import AttemptMessage, MessageError
from runner.engine.executor import AttemptSpec
from runner.errors import DefinitionError
from runner.model import Task


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


def test_an_attempt_message_survives_json_and_rejects_other_versions() -> None:
    task = Task("load", command=("load.sh",), queue="gpu")
    spec = AttemptSpec(
        key=7,
        job="etl",
        task=task,
        run_id=3,
        attempt=2,
        logical_time=datetime(2026, 11, 25, 3, tzinfo=UTC),
        env={"RUNWATCH_TASK": "load"},
        stdout_path=Path("/logs/etl/3/load.2.out"),
        stderr_path=None,
        upstream_results={"extract": {"rows": 3}},
    )
    message = AttemptMessage.from_spec(spec, "gpu")
    payload = message.to_payload()
    assert AttemptMessage.from_payload(payload).to_spec(task) == spec
    with pytest.raises(MessageError, match="version"):
        AttemptMessage.from_payload({**payload, "v": 99})
    with pytest.raises(MessageError, match="malformed"):
        AttemptMessage.from_payload({"v": 1})


def test_the_public_names_are_exactly_what_the_package_exports() -> None:
    public = {n for n in vars(runner.distributed) if not n.startswith("_")}
    modules = {"app", "executor", "kinds", "message", "recovery", "settings", "worker"}
    assert public - modules == set(runner.distributed.__all__)
