"""Executor kinds: ``executor.kind`` in runwatch.yaml chooses what runs the attempts."""

from __future__ import annotations

from collections.abc import Mapping

from runner.config import Settings
from runner.engine.executor import Executor, MessageQueue
from runner.redaction import Redactor


def build_executor(
    settings: Settings,
    env: Mapping[str, str],
    messages: MessageQueue,
    redactor: Redactor | None = None,
) -> Executor:
    """The configured executor, reporting on ``messages``: local (default) or celery."""
    if settings.executor.get("kind", "local") != "local":
        # Celery's settings and their checks are loaded only by the processes that use them.
        from runner.executors.celery.settings import celery_settings, executor_kind, require_celery

        executor_kind(settings)  # an unknown kind is a definition error
        require_celery()
        from runner.executors.celery.executor import CeleryExecutor

        return CeleryExecutor(messages, celery_settings(settings, env), db_url=settings.db_url)
    from runner.config import redactor_for
    from runner.executors.local.executor import LocalExecutor
    from runner.taskenv import TaskEnvironment

    return LocalExecutor(
        messages,
        python_workers=settings.workers,
        environment=TaskEnvironment.of(env, settings.interpolated),
        redactor=redactor or redactor_for(settings, env),
    )
