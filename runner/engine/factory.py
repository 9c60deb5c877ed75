"""Assemble an engine from settings: the composition of store, executor and observers."""

from __future__ import annotations

import queue
from collections.abc import Callable, Mapping

from runner.config import Settings
from runner.engine.engine import Engine, Progress
from runner.engine.executor import Message
from runner.engine.local import LocalExecutor
from runner.engine.observer import RunObserver
from runner.store.store import Store


def build_engine(
    settings: Settings,
    store: Store,
    *,
    pools: Mapping[str, int],
    progress: Callable[[Progress], None] | None = None,
    observer: RunObserver | None = None,
) -> Engine:
    """An engine running attempts on this machine with the configured limits."""
    messages: queue.SimpleQueue[Message] = queue.SimpleQueue()
    executor = LocalExecutor(messages, python_workers=settings.workers)
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
    )
