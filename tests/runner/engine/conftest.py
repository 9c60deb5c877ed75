"""The ``attempts`` fixture: a real LocalExecutor, and helpers to submit and await attempts;
the ``harness`` fixture: an Engine over it and a real SQLite store, and helpers to run jobs;
the ``client`` fixture: a real keeper's client, its replies in ``replies``."""

from __future__ import annotations

import itertools
import os
import queue
import select
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from runner.clock import Clock, utcnow
from runner.engine.engine import Engine, Progress
from runner.engine.executor import AttemptFinished, AttemptLaunched, AttemptSpec, Message
from runner.executors.local.executor import LocalExecutor
from runner.executors.local.keeper import KeeperClient
from runner.model import Job, Task, TaskState, Trigger
from runner.store.records import AttemptRecord, RunRecord
from runner.store.store import Store


@dataclass
class Attempts:
    """Submits attempts to a real executor and collects what it reports, per attempt."""

    executor: LocalExecutor
    messages: queue.SimpleQueue[Message]
    logs: Path
    keys: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    reported: dict[int, list[Message]] = field(default_factory=dict)
    submitted: list[int] = field(default_factory=list)

    def spec(self, task: Task, **changes: Any) -> AttemptSpec:
        key = next(self.keys)
        spec = AttemptSpec(
            key=key,
            job="job",
            task=task,
            run_id=1,
            attempt=1,
            logical_time=datetime(2026, 1, 1, tzinfo=UTC),
            env={},
            stdout_path=self.logs / f"{key}.out",
            stderr_path=self.logs / f"{key}.err",
            kill_grace=0.5,
        )
        return replace(spec, **changes)

    def submit(self, task: Task, **changes: Any) -> AttemptSpec:
        spec = self.spec(task, **changes)
        self.submitted.append(spec.key)
        self.executor.submit(spec)
        return spec

    def run(self, task: Task, **changes: Any) -> AttemptFinished:
        return self.finished(self.submit(task, **changes))

    def finished(self, spec: AttemptSpec, timeout: float = 10.0) -> AttemptFinished:
        message = self._await(spec.key, AttemptFinished, timeout)
        assert isinstance(message, AttemptFinished)
        return message

    def launched(self, spec: AttemptSpec, timeout: float = 10.0) -> AttemptLaunched:
        message = self._await(spec.key, AttemptLaunched, timeout)
        assert isinstance(message, AttemptLaunched)
        return message

    def drain(self) -> None:
        while True:
            try:
                message = self.messages.get_nowait()
            except queue.Empty:
                return
            self.reported.setdefault(message.key, []).append(message)  # type: ignore[union-attr]

    @staticmethod
    def wait_gone(pid: int, timeout: float = 5.0) -> bool:
        """True once the process has exited (a zombie counts), False if it outlives ``timeout``."""
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            return True
        try:
            return bool(select.select([pidfd], [], [], timeout)[0])
        finally:
            os.close(pidfd)

    @staticmethod
    def wait_for_line(path: Path, timeout: float = 5.0) -> str:
        """The text of ``path`` once it holds a complete line."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if path.exists() and path.read_text().endswith("\n"):
                return path.read_text()
            select.select([], [], [], 0.01)
        raise AssertionError(f"{path} not written in {timeout}s")

    def _await(self, key: int, kind: type, timeout: float) -> Message:
        deadline = time.monotonic() + timeout
        while True:
            for message in self.reported.get(key, []):
                if isinstance(message, kind):
                    return message
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {kind.__name__} for attempt {key} in {timeout}s")
            try:
                message = self.messages.get(timeout=left)
            except queue.Empty:
                continue
            self.reported.setdefault(message.key, []).append(message)  # type: ignore[union-attr]


@pytest.fixture
def attempts(tmp_path: Path) -> Iterator[Attempts]:
    """A LocalExecutor with two Python workers; checks every attempt reported exactly once."""
    messages: queue.SimpleQueue[Message] = queue.SimpleQueue()
    executor = LocalExecutor(messages, python_workers=2)
    harness = Attempts(executor, messages, tmp_path / "logs")
    try:
        yield harness
    finally:
        executor.shutdown()
    harness.drain()
    for key in harness.submitted:
        kinds = [type(m).__name__ for m in harness.reported.get(key, [])]
        assert kinds == ["AttemptLaunched", "AttemptFinished"], (key, kinds)


@dataclass
class Harness:
    store: Store
    engine: Engine
    tmp: Path
    progress: list[Progress]

    def run(self, job: Job, *, params: dict[str, str] | None = None) -> RunRecord:
        now = utcnow()
        self.store.sync_jobs([job], now)
        run = self.store.create_run(job, now, Trigger.MANUAL, now, params)
        assert run is not None
        return self.engine.execute(job, run)

    def states(self, run: RunRecord) -> dict[str, TaskState]:
        return {name: t.state for name, t in self.store.task_runs(run.id).items()}

    def attempts(self, run: RunRecord, task: str) -> list[AttemptRecord]:
        return self.store.attempts(run.id, task)


def open_harness(tmp_path: Path, clock: Clock = utcnow, **engine_options: Any) -> Harness:
    """An engine over a real LocalExecutor and a SQLite store under ``tmp_path``."""
    store = Store.open(f"sqlite:///{tmp_path}/runwatch.db")
    messages: queue.SimpleQueue[Message] = queue.SimpleQueue()
    progress: list[Progress] = []
    engine = Engine(
        store,
        LocalExecutor(messages, python_workers=4),
        messages,
        log_dir=tmp_path / "logs",
        pools={"one": 1},
        workers=8,
        progress=progress.extend,
        clock=clock,
        **engine_options,
    )
    return Harness(store, engine, tmp_path, progress)


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    opened = open_harness(tmp_path)
    yield opened
    opened.engine.close()
    opened.store.close()


def job(*tasks: Task, **options: object) -> Job:
    return Job(name=str(options.pop("name", "job")), tasks={t.name: t for t in tasks}, **options)  # type: ignore[arg-type]


def sh(name: str, command: str, **options: object) -> Task:
    return Task(name=name, command=command, **options)  # type: ignore[arg-type]


Replies = queue.SimpleQueue[tuple[Any, ...]]
"""What a keeper's client hands its owner: one tuple per reply."""


@pytest.fixture
def replies() -> Replies:
    return queue.SimpleQueue()


@pytest.fixture
def client(replies: Replies) -> Iterator[KeeperClient]:
    keeper = KeeperClient(replies.put, lambda: None)
    yield keeper
    keeper.close()
