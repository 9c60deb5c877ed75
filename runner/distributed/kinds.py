"""Executor kinds: ``executor.kind`` in runwatch.yaml chooses what runs the attempts."""

from __future__ import annotations

from collections.abc import Mapping

from runner.config import Settings
from runner.engine.executor import Executor, MessageQueue


def build_executor(settings: Settings, env: Mapping[str, str], messages: MessageQueue) -> Executor:
    """The configured executor, reporting on ``messages``: local (default) or celery."""
    if settings.executor.get("kind", "local") != "local":
        # Celery's settings and their checks are loaded only by the processes that use them.
        from runner.distributed.settings import celery_settings, executor_kind, require_celery

        executor_kind(settings)  # an unknown kind is a definition error
        require_celery()
        from runner.distributed.executor import CeleryExecutor

        return CeleryExecutor(messages, celery_settings(settings, env), db_url=settings.db_url)
    from runner.engine.local import LocalExecutor

    return LocalExecutor(messages, python_workers=settings.workers)
