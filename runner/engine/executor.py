"""The executor contract: how the engine hands an attempt to something that runs it.

The engine is one thread. It submits ``AttemptSpec``s; an executor runs each attempt
(a subprocess, a worker process, a Celery task …) and reports back through the
engine's queue: first ``AttemptLaunched`` (with the pid, so a crash can be recovered
from), then exactly one ``AttemptFinished``, whatever happened to the process.
"""

from __future__ import annotations

import os
import queue
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from runner.model import Task, TaskState

DEFAULT_LOG_CAP_BYTES = 10 * 1024 * 1024
"""Per stream and attempt; output past it is counted but not written."""


@dataclass(frozen=True)
class AttemptSpec:
    """Everything needed to run one attempt, independent of the store."""

    key: int
    """The attempt's id in the store; echoed in the messages back."""
    job: str
    task: Task
    run_id: int
    attempt: int
    logical_time: datetime
    env: dict[str, str]
    """Added to the inherited environment (RUNWATCH_*, params, the task's env, TRACEPARENT)."""
    stdout_path: str | os.PathLike[str] | None
    stderr_path: str | os.PathLike[str] | None
    upstream_results: dict[str, Any] = field(default_factory=dict)
    kill_grace: float = 5.0
    log_cap_bytes: int = DEFAULT_LOG_CAP_BYTES
    passthrough: bool = False
    """Also copy the output, byte for byte, to this process's stdout and stderr (wrap)."""


@dataclass(frozen=True)
class AttemptLaunched:
    """The attempt's process exists."""

    key: int
    pid: int | None
    pid_start: str | None = None
    """``processes.process_start(pid)``, read by whoever started the process."""
    traced: bool = False
    """Whoever started the process has recorded it where recovery finds it without the
    store (the keeper's status file): the engine may write it with the attempt's end."""


@dataclass(frozen=True)
class AttemptFinished:
    """The attempt ended; ``state`` is success, failed, timed_out, skipped or cancelled."""

    key: int
    state: TaskState
    exit_code: int | None = None
    signal: int | None = None
    error: str | None = None
    reason: str | None = None
    result: Any = None
    status_file: str | None = None
    """The attempt's status file (runner.exitstatus), which tells how it ended until the
    store does: the engine removes it once this outcome is committed."""


@dataclass(frozen=True)
class CancelRequested:
    """Put on the queue by a signal handler or another thread: cancel runs and wake the
    engine. ``run_id`` None means every active run."""

    reason: str
    run_id: int | None = None


@dataclass(frozen=True)
class Wakeup:
    """Put on the queue to end the engine's wait early (a reload, a shutdown, a new run)."""

    reason: str


@dataclass(frozen=True)
class SensorPoked:
    """A poke of a sensor task answered (runner.engine.sensing)."""

    run_id: int
    task: str
    ready: bool
    detail: str


Message = AttemptLaunched | AttemptFinished | CancelRequested | Wakeup | SensorPoked


class Executor(Protocol):
    """Runs attempts and reports on the queue it was given."""

    def submit(self, spec: AttemptSpec) -> None:
        """Start the attempt now; never blocks on the attempt itself."""

    def cancel(self, key: int, *, reason: str) -> None:
        """Stop a running attempt (SIGTERM to its process group, SIGKILL after the grace);
        it then finishes as ``cancelled`` with ``reason``."""

    def time_out(self, key: int) -> None:
        """Stop a running attempt that exceeded its timeout; it finishes as ``timed_out``."""

    def shutdown(self) -> None:
        """Release workers; attempts still running are cancelled first."""


MessageQueue = queue.SimpleQueue[Message]
