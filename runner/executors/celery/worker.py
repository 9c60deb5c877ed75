"""The worker side: claim an attempt, run it exactly as the local executor does, keep its
heartbeat, obey stop requests, and decide its outcome in the store.

Runs in each Celery worker process (prefork: one attempt per process at a time). The
attempt itself runs in the local executor (a subprocess in its own process group, or a
forked Python worker), so timeouts, log capture and the trace context behave as they
do under ``runwatch run``.
"""

from __future__ import annotations

import hmac
import logging
import os
import queue
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner import processes
from runner.clock import Clock, utcnow
from runner.engine import mapping
from runner.engine.executor import (
    DEFAULT_LOG_CAP_BYTES,
    AttemptFinished,
    AttemptLaunched,
    AttemptSpec,
    MessageQueue,
)
from runner.errors import RunwatchError, StoreError
from runner.executors.celery.message import (
    AttemptMessage,
    AttemptSource,
    MessageError,
    outcome_payload,
    task_digest,
)
from runner.executors.celery.settings import CelerySettings
from runner.executors.celery.signing import signature_problem
from runner.executors.local.executor import LocalExecutor
from runner.model import Definitions, Job, Task, TaskState, logical_task
from runner.redaction import Redactor
from runner.store.leases import (
    Claim,
    claim_attempt,
    decide_outcome,
    lease,
    record_log_paths,
    renew_attempt,
)
from runner.store.store import Store
from runner.taskenv import TaskEnvironment

logger = logging.getLogger(__name__)

STORE_DOWN_REQUEUE_SECONDS = 1.0
"""A message that cannot be claimed because the store is unreachable goes back to the
broker after this pause (a pause, so a store outage is not a busy loop)."""


@dataclass
class WorkerRuntime:
    """What each worker process needs; its store connection and local executor are
    opened in the process that uses them (never inherited across a fork)."""

    db_url: str
    definitions: Definitions
    settings: CelerySettings
    log_dir: Path
    """This worker's own logs folder: attempts' output goes here, whatever a message says."""
    log_cap_bytes: int = DEFAULT_LOG_CAP_BYTES
    environment: TaskEnvironment | None = None
    """What tasks inherit: this worker's environment less runwatch's secrets."""
    redactor: Redactor | None = None
    """Clears attempts' errors of the secrets this worker's settings know."""
    clock: Clock = utcnow
    _pid: int = field(default=0, init=False, repr=False)
    _store: Store | None = field(default=None, init=False, repr=False)
    _local: tuple[LocalExecutor, MessageQueue] | None = field(default=None, init=False, repr=False)

    def store(self) -> Store:
        """This process's store connection."""
        self._forget_inherited()
        if self._store is None:
            self._store = Store.open(self.db_url, migrate=False, recover=False)
        return self._store

    def local(self) -> tuple[LocalExecutor, MessageQueue]:
        """This process's local executor and the queue it reports on."""
        self._forget_inherited()
        if self._local is None:
            messages: MessageQueue = queue.SimpleQueue()
            executor = LocalExecutor(
                messages,
                python_workers=1,
                environment=self.environment,
                redactor=self.redactor,
                fence=self.settings.kept_command_fence,
            )
            self._local = (executor, messages)
        return self._local

    def drop_store(self) -> None:
        """Forget a connection that failed; the next use opens a new one."""
        if self._store is not None:
            try:
                self._store.close()
            except StoreError:
                logger.debug("closing a failed store connection failed too")
            self._store = None

    def _forget_inherited(self) -> None:
        if self._pid != os.getpid():
            # A forked child must not share its parent's socket or threads.
            self._pid, self._store, self._local = os.getpid(), None, None

    def checked(
        self, store: Store, message: AttemptMessage, payload: Mapping[str, Any]
    ) -> tuple[Job, Task, AttemptSource]:
        """The job and task the message names, from this worker's own definitions, and
        the attempt's records; MessageRefusedError when the message is unsigned (with a
        key set), does not match the attempt it names, names a task this worker lacks,
        or was sent for a different definition of it."""
        key = self.settings.signing_key
        problem = None if key is None else signature_problem(payload, key)
        if problem is not None:
            raise MessageRefusedError("rejected message", problem)
        attempt = store.get_attempt(message.attempt_id)
        # The message names the task; the attempt, the task or one instance of it.
        if (attempt.job, logical_task(attempt.task)) != (message.job, message.task):
            raise MessageRefusedError(
                "rejected message",
                f"the message names task {message.task!r} of job {message.job!r}, but "
                f"attempt {attempt.id} is of task {attempt.task!r} of job {attempt.job!r}",
            )
        job = self.definitions.jobs.get(attempt.job)
        task = None if job is None else job.tasks.get(logical_task(attempt.task))
        if job is None or task is None:
            raise MessageRefusedError(
                "unknown task",
                f"worker {processes.current()} has no task {attempt.task!r} of job "
                f"{attempt.job!r}: give it the same job files as the schedulers",
            )
        own = task_digest(task)
        if not hmac.compare_digest(message.digest, own):
            raise MessageRefusedError(
                "definition mismatch",
                f"task {task.name!r} of job {job.name!r} was sent for a definition "
                f"(digest {message.digest[:12]}) that differs from this worker's definition "
                f"(digest {own[:12]}): give workers the same job files as the schedulers",
            )
        results = store.results(attempt.run_id) if task.after else {}
        if mapping.needs_mapped_results(job, task):
            rows = {n: r.state for n, r in store.task_runs(attempt.run_id).items()}
            mapping.mapped_results(job, rows, results)
        source = AttemptSource(
            attempt, store.get_run(attempt.run_id), results, self.log_dir, self.log_cap_bytes
        )
        return job, task, source

    def run_attempt(self, payload: dict[str, Any]) -> str:
        """The Celery task: run the attempt if this process wins its claim.

        Returns what became of the message (``ran``, ``refused``, ``missing``,
        ``rejected``, ``malformed``), for the worker's log.
        """
        try:
            message = AttemptMessage.from_payload(payload)
        except MessageError as exc:
            logger.error("dropped a message runwatch cannot read: %s", exc)
            return "malformed"
        extra = {"job": message.job, "attempt_id": message.attempt_id}
        try:
            store = self.store()
            claim = claim_attempt(store, message.attempt_id, processes.current(), self.clock())
        except StoreError as exc:
            self.drop_store()
            logger.error("cannot claim attempt %d: %s; requeued", message.attempt_id, exc)
            from celery.exceptions import Reject

            time.sleep(STORE_DOWN_REQUEUE_SECONDS)
            raise Reject(str(exc), requeue=True) from exc
        if claim is not Claim.CLAIMED:
            logger.info(
                "attempt %d of %s/%s %s: message dropped",
                message.attempt_id, message.job, message.task,
                "is not claimable (a redelivery, or already stopped or ended)"
                if claim is Claim.REFUSED else "does not exist",
                extra=extra,
            )  # fmt: skip
            return claim.value
        try:
            job, task, source = self.checked(store, message, payload)
        except MessageRefusedError as refused:
            logger.error(
                "rejected a message for attempt %d of %s/%s (%s): %s",
                message.attempt_id, message.job, message.task, refused.reason, refused,
                extra=extra,
            )  # fmt: skip
            decide_outcome(
                store,
                message.attempt_id,
                {"state": TaskState.FAILED.value, "reason": refused.reason, "error": str(refused)},
            )
            return "rejected"
        logger.info(
            "running attempt %d of %s/%s (run %d)",
            message.attempt_id, job.name, task.name, source.run.id,
            extra={"job": job.name, "run_id": source.run.id},
        )  # fmt: skip
        spec = message.to_spec(job, task, source)
        record_log_paths(store, spec.key, spec.stdout_path, spec.stderr_path)
        _Supervision(self, store, spec).run()
        return "ran"


class MessageRefusedError(RunwatchError, ValueError):
    """A worker will not run what a message asks; ``reason`` becomes the attempt's."""

    def __init__(self, reason: str, error: str) -> None:
        super().__init__(error)
        self.reason = reason


class _Supervision:
    """Watches one claimed attempt until it ends: heartbeats, stop requests, fencing."""

    def __init__(self, runtime: WorkerRuntime, store: Store, spec: AttemptSpec) -> None:
        self.runtime = runtime
        self.store = store
        self.spec = spec
        self.settings = runtime.settings
        self.stopping = False
        started = time.monotonic()
        self.renewed_at = started
        self.next_renewal = started + self.settings.heartbeat_interval
        self.next_check = started + self.settings.poll_interval
        timeout = spec.task.timeout
        self.deadline = None if timeout is None else started + timeout

    def run(self) -> None:
        executor, messages = self.runtime.local()
        executor.submit(self.spec)
        while True:
            try:
                message = messages.get(timeout=self.settings.poll_interval)
            except queue.Empty:
                message = None
            if isinstance(message, AttemptFinished) and message.key == self.spec.key:
                self._decide(message)
                return
            if isinstance(message, AttemptLaunched) and message.key == self.spec.key:
                self._record_pid(message)
            self._watch(executor)

    def _record_pid(self, launched: AttemptLaunched) -> None:
        if launched.pid is None:
            return
        try:
            attempt = self.store.get_attempt(self.spec.key)
            self.store.set_attempt_process(attempt, pid=launched.pid, pid_start=launched.pid_start)
        except StoreError as exc:
            logger.warning("cannot record the pid of attempt %d: %s", self.spec.key, exc)

    def _watch(self, executor: LocalExecutor) -> None:
        now = time.monotonic()
        try:
            if now >= self.next_renewal:
                self.next_renewal = now + self.settings.heartbeat_interval
                renewal = renew_attempt(self.store, self.spec.key, self.runtime.clock())
                self.renewed_at = now
                if not renewal.kept:
                    self._stop(executor, TaskState.CANCELLED, "the attempt was taken over")
                elif renewal.stop_request is not None:
                    self._requested(executor, renewal.stop_request)
            elif now >= self.next_check:
                self.next_check = now + self.settings.poll_interval
                current = lease(self.store, self.spec.key)
                if current is None or current.outcome is not None:
                    self._stop(executor, TaskState.CANCELLED, "the attempt was taken over")
                elif current.stop_request is not None:
                    self._requested(executor, current.stop_request)
        except StoreError as exc:
            logger.warning("heartbeat of attempt %d failed: %s", self.spec.key, exc)
            self._reconnect()
        # Fencing: past half the orphan age without a heartbeat, others may judge this
        # attempt orphaned and retry it; stop it before they can.
        if now - self.renewed_at > self.settings.orphan_after / 2:
            self._stop(executor, TaskState.CANCELLED, "lost contact with the store")
        if self.deadline is not None and now > self.deadline:
            self._stop(executor, TaskState.TIMED_OUT, "timed out")

    def _reconnect(self) -> None:
        self.runtime.drop_store()
        try:
            self.store = self.runtime.store()
        except StoreError as exc:  # still down: the next heartbeat tries again
            logger.warning("cannot reconnect to the store: %s", exc)

    def _requested(self, executor: LocalExecutor, request: Any) -> None:
        state = TaskState(request.get("state", TaskState.CANCELLED.value))
        self._stop(executor, state, str(request.get("reason", "stopped")))

    def _stop(self, executor: LocalExecutor, state: TaskState, reason: str) -> None:
        if self.stopping:
            return
        self.stopping = True
        logger.info("stopping attempt %d: %s", self.spec.key, reason)
        if state is TaskState.TIMED_OUT:
            executor.time_out(self.spec.key)
        else:
            executor.cancel(self.spec.key, reason=reason)

    def _decide(self, finished: AttemptFinished) -> None:
        try:
            decided = decide_outcome(self.store, self.spec.key, outcome_payload(finished))
        except StoreError as exc:
            logger.error(
                "cannot record the outcome (%s) of attempt %d: %s; it will be judged orphaned",
                finished.state.value, self.spec.key, exc,
            )  # fmt: skip
            return
        if not decided:
            logger.warning(
                "attempt %d ended %s, but its outcome had already been decided elsewhere",
                self.spec.key,
                finished.state.value,
            )
