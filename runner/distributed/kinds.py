"""Executor kinds: ``executor.kind`` in runwatch.yaml chooses what runs the attempts."""

from __future__ import annotations

from collections.abc import Mapping

from runner.config import Settings
from runner.distributed.settings import celery_settings, executor_kind, require_celery
from runner.engine.executor import Executor, MessageQueue


def build_executor(settings: Settings, env: Mapping[str, str], messages: MessageQueue) -> Executor:
    """The configured executor, reporting on ``messages``: local (default) or celery."""
    if executor_kind(settings) == "celery":
        require_celery()
        from runner.distributed.executor import CeleryExecutor

        return CeleryExecutor(messages, celery_settings(settings, env), db_url=settings.db_url)
    from runner.engine.local import LocalExecutor

    return LocalExecutor(messages, python_workers=settings.workers)
