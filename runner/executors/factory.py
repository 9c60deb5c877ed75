"""Assemble an engine from settings: the composition of store, executor and observers."""

from __future__ import annotations

import queue
from collections.abc import Callable, Mapping

from runner.config import Settings
from runner.engine.engine import Engine, Progress
from runner.engine.executor import Message
from runner.engine.observer import RunObserver
from runner.redaction import Redactor
from runner.store.store import Store
from runner.taskenv import TaskEnvironment


def build_engine(
    settings: Settings,
    store: Store,
    *,
    pools: Mapping[str, int],
    progress: Callable[[list[Progress]], None] | None = None,
    observer: RunObserver | None = None,
    env: Mapping[str, str],
    redactor: Redactor | None = None,
) -> Engine:
    """An engine running attempts with the configured executor and limits.

    ``env`` is runwatch's environment: the executor's settings and what tasks inherit;
    ``redactor`` (default: built from both) clears attempts' errors of secrets.
    """
    from runner.executors.kinds import build_executor

    messages: queue.SimpleQueue[Message] = queue.SimpleQueue()
    executor = build_executor(settings, env, messages, redactor)
    return Engine(
        store,
        executor,
        messages,
        log_dir=settings.home / "logs",
        pools=pools,
        workers=settings.workers,
        log_cap_bytes=settings.log_cap_bytes,
        progress=progress,
        observer=observer,
        task_environment=TaskEnvironment.of(env, settings.interpolated),  # command sensors
    )
