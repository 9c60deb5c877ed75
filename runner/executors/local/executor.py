"""The local executor: commands as subprocesses, Python tasks in forked workers or threads."""

from __future__ import annotations

import dataclasses
import logging
import os
import queue
import threading
from typing import Protocol

from runner.engine import outcome
from runner.engine.executor import (
    AttemptFinished,
    AttemptLaunched,
    AttemptSpec,
    Message,
    MessageQueue,
)
from runner.executors.local.pypool import PythonWorkerPool
from runner.executors.local.python_thread import InProcessAttempt, OutputRouter
from runner.executors.local.subprocess_runner import CommandAttempt, CommandRunner
from runner.executors.local.threads import AttemptThreads
from runner.model import TaskState
from runner.redaction import Redactor, environment_secrets
from runner.taskenv import TaskEnvironment

logger = logging.getLogger(__name__)

_SHUTDOWN_JOIN_SLACK_SECONDS = 5.0


class _Running(Protocol):
    spec: AttemptSpec

    def request_stop(self, state: TaskState, reason: str) -> None: ...


class RedactedMessages(queue.SimpleQueue[Message]):
    """Forwards messages to ``target`` with secrets redacted from outcomes' errors and
    reasons (output tails, tracebacks), before anyone stores, sends or traces them."""

    def __init__(self, target: MessageQueue, redactor: Redactor) -> None:
        super().__init__()
        self._target = target
        self._redactor = redactor

    def put(self, item: Message, block: bool = True, timeout: float | None = None) -> None:
        """Redact, then forward."""
        if isinstance(item, AttemptFinished) and self._redactor and (item.error or item.reason):
            error = self._redactor.redact_optional(item.error)
            reason = self._redactor.redact_optional(item.reason)
            if (error, reason) != (item.error, item.reason):
                item = dataclasses.replace(item, error=error, reason=reason)
        self._target.put(item, block, timeout)


class LocalExecutor:
    """Runs attempts on this host and reports on ``messages``; implements ``Executor``.

    Commands run as subprocesses of the executor's keeper process, each the leader of its
    own process group. Python tasks run in a pool of up to ``python_workers`` forked worker
    processes, or, with ``in_process=True``, in a thread of this process. Every submitted
    attempt gets one ``AttemptLaunched`` (pid None if no process could be started) and then
    exactly one ``AttemptFinished``; no method raises into the engine.
    """

    def __init__(
        self,
        messages: MessageQueue,
        *,
        python_workers: int = 4,
        environment: TaskEnvironment | None = None,
        redactor: Redactor | None = None,
        fence: float | None = None,
    ) -> None:
        """``fence``: how long a command may run on once this process is gone, unless its
        lease is renewed (``KeeperClient.spawn``); None: as long as it runs."""
        self._environment = environment or TaskEnvironment.of(os.environ)
        self._messages = messages = RedactedMessages(
            messages, redactor or Redactor(environment_secrets(self._environment.inherited))
        )
        self._pool = PythonWorkerPool(messages, size=python_workers, environment=self._environment)
        self._router = OutputRouter()
        self._threads = AttemptThreads()
        self._commands = CommandRunner(messages, self._forget, fence)
        self._lock = threading.Lock()
        self._running: dict[int, _Running] = {}
        self._closed = False

    def submit(self, spec: AttemptSpec) -> None:
        """Start the attempt now; never blocks on the attempt itself."""
        try:
            self._submit(spec)
        except Exception as exc:  # never raise into the engine: report the attempt failed
            logger.exception("cannot start attempt %d of task %r", spec.key, spec.task.name)
            self._forget(spec.key)
            self._messages.put(AttemptLaunched(spec.key, None))
            self._messages.put(outcome.internal_error(spec.key, exc))

    def cancel(self, key: int, *, reason: str) -> None:
        """Stop the attempt (SIGTERM, grace, SIGKILL to its group); it finishes as cancelled."""
        self._stop(key, TaskState.CANCELLED, reason)

    def time_out(self, key: int) -> None:
        """Stop the attempt the same way; it finishes as timed_out."""
        self._stop(key, TaskState.TIMED_OUT, "timed out")

    def shutdown(self) -> None:
        """Cancel running attempts (reason "shutdown"), stop the workers, join; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            running = list(self._running.values())
        for attempt in running:
            self._stop(attempt.spec.key, TaskState.CANCELLED, "shutdown")
        join_seconds = _SHUTDOWN_JOIN_SLACK_SECONDS + max(
            (a.spec.kill_grace for a in running), default=0.0
        )
        self._pool.shutdown(timeout=join_seconds)
        for attempt in running:
            if isinstance(attempt, CommandAttempt):
                attempt.join(join_seconds)
        self._commands.close()
        self._router.uninstall()

    def _submit(self, spec: AttemptSpec) -> None:
        with self._lock:
            closed = self._closed
        if closed:
            self._messages.put(AttemptLaunched(spec.key, None))
            self._messages.put(AttemptFinished(spec.key, TaskState.CANCELLED, reason="shutdown"))
            return
        # Tracked before started: a fast attempt may finish, and be forgotten, at once.
        if spec.task.kind == "command":
            env = self._environment.for_task(spec.task.env_inherit, spec.env)
            command = self._commands.prepare(spec)
            self._track(command)
            self._commands.start(command, env)
        elif spec.task.in_process:
            self._router.install()
            in_process = InProcessAttempt(spec, self._messages, self._forget, self._router)
            self._track(in_process)
            in_process.launch()
            self._threads.run(in_process.run)
        else:
            python = self._pool.prepare(spec, self._forget)
            self._track(python)
            self._pool.submit(python)

    def _track(self, attempt: _Running) -> None:
        with self._lock:
            if attempt.spec.key in self._running:
                logger.warning("attempt %d submitted while already running", attempt.spec.key)
            self._running[attempt.spec.key] = attempt

    def _forget(self, key: int) -> None:
        with self._lock:
            self._running.pop(key, None)

    def _stop(self, key: int, state: TaskState, reason: str) -> None:
        with self._lock:
            running = self._running.get(key)
        if running is None:
            logger.debug("attempt %d is not running; nothing to stop", key)
            return
        try:
            running.request_stop(state, reason)
        except Exception:  # never raise into the engine; the attempt still reports when it ends
            logger.exception("stopping attempt %d failed", key)
