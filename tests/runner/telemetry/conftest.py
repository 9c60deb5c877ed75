"""Fixtures: a tracing observer exporting to memory, a real engine (LocalExecutor, SQLite
store) to drive it, and a fresh metrics registry per test."""

from __future__ import annotations

import queue
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client import CollectorRegistry

from runner.clock import utcnow
from runner.engine.engine import Engine
from runner.engine.executor import Message
from runner.engine.observer import RunObserver
from runner.executors.local.executor import LocalExecutor
from runner.model import Job, Task, Trigger
from runner.store.records import RunRecord
from runner.store.store import Store
from runner.telemetry.config import TracingSettings
from runner.telemetry.provider import build_pipeline
from runner.telemetry.tracing import TracingObserver


@dataclass
class Traced:
    """A tracing observer whose spans go, batched, to memory."""

    observer: TracingObserver
    exporter: InMemorySpanExporter

    def spans(self) -> list[ReadableSpan]:
        """Every span, after flushing the batch processor (closes the observer)."""
        self.observer.close()
        return list(self.exporter.get_finished_spans())


def traced_observer(traceparent: str | None = None, tracestate: str | None = None) -> Traced:
    exporter = InMemorySpanExporter()
    provider = build_pipeline(TracingSettings(), [exporter])
    observer = TracingObserver(provider, traceparent=traceparent, tracestate=tracestate)
    return Traced(observer, exporter)


@pytest.fixture
def traced() -> Iterator[Traced]:
    """A tracing observer exporting to memory through a BatchSpanProcessor."""
    result = traced_observer()
    yield result
    result.observer.close()


@dataclass
class Harness:
    """A real engine with a real local executor and a SQLite store."""

    store: Store
    engine: Engine
    db_url: str
    tmp: Path

    def run(self, job: Job, *, trigger: Trigger = Trigger.MANUAL) -> RunRecord:
        now = utcnow()
        self.store.sync_jobs([job], now)
        run = self.store.create_run(job, now, trigger, now)
        assert run is not None
        return self.engine.execute(job, run)


@dataclass
class Harnesses:
    tmp: Path
    made: list[Harness] = field(default_factory=list)

    def __call__(self, observer: RunObserver | None = None) -> Harness:
        db_url = f"sqlite:///{self.tmp / 'runwatch.db'}"
        store = Store.open(db_url)
        messages: queue.SimpleQueue[Message] = queue.SimpleQueue()
        engine = Engine(
            store,
            LocalExecutor(messages, python_workers=2),
            messages,
            log_dir=self.tmp / "logs",
            workers=4,
            observer=observer,
        )
        harness = Harness(store, engine, db_url, self.tmp)
        self.made.append(harness)
        return harness


@pytest.fixture
def engine_with(tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    """Make an engine around an observer (all share one store file); closed after the test."""
    harnesses = Harnesses(tmp_path)
    yield harnesses
    for harness in harnesses.made:
        harness.engine.close()
        harness.store.close()


@pytest.fixture
def registry() -> CollectorRegistry:
    """A fresh metrics registry."""
    return CollectorRegistry()


def sh(name: str, command: str, **options: object) -> Task:
    return Task(name=name, command=command, **options)  # type: ignore[arg-type]


def job(*tasks: Task, name: str = "etl", **options: object) -> Job:
    return Job(name=name, tasks={t.name: t for t in tasks}, **options)  # type: ignore[arg-type]


@pytest.fixture
def unused_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
