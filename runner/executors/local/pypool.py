"""The pool of forked Python workers: one attempt per worker, grown on demand, idle ones reused."""

from __future__ import annotations

import concurrent.futures.thread  # noqa: F401 - see below
import logging
import os
import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from runner.engine import outcome
from runner.engine.executor import AttemptFinished, AttemptLaunched, AttemptSpec, MessageQueue
from runner.executors.local.capture import StreamCapture, attempt_captures
from runner.executors.local.process_group import GroupStop
from runner.executors.local.pycall import CallOutcome
from runner.model import Task, TaskState

if TYPE_CHECKING:
    from runner.executors.local.pyworker import WorkerProcess, WorkerResponse
from runner.taskenv import WITHHELD, TaskEnvironment

logger = logging.getLogger(__name__)

# Imported before any worker forks: OpenTelemetry's SDK registers an at-fork hook, and a
# module that registers its own (concurrent.futures.thread does) first imported after a
# TracerProvider exists makes every later fork hang in the child. The worker module itself
# (multiprocessing.connection, ~6 ms) registers none: it is imported at the first fork, so
# a run of commands only never loads it.


class PythonAttempt:
    """One attempt of a Python task, waiting for a worker or running on one."""

    def __init__(
        self, pool: PythonWorkerPool, spec: AttemptSpec, on_done: Callable[[int], None]
    ) -> None:
        self.spec = spec
        self.on_done = on_done
        self.call: bytes | int = b""
        self.min_generation = 0
        """Only workers forked with at least this many registry entries can resolve ``call``."""
        self.worker: WorkerProcess | None = None
        self.out = StreamCapture(None, cap_bytes=0)
        self.err = StreamCapture(None, cap_bytes=0)
        self.stop: GroupStop | None = None
        self.stopped_as: tuple[TaskState, str] = (TaskState.CANCELLED, "")
        """The state and reason a stopped attempt finishes with (set with ``stop``)."""
        self.launched = False
        self.finished = False
        self._pool = pool

    def request_stop(self, state: TaskState, reason: str) -> None:
        """Kill the worker's process group (SIGTERM, grace, SIGKILL); finish as ``state``."""
        self._pool.stop(self, state, reason)


class PythonWorkerPool:
    """Runs Python attempts in forked worker processes, at most ``size`` at a time.

    A callable is sent to a worker as a pickle (a reference, for module-level functions,
    ``@task``-decorated ones included: see callref).
    One that cannot be pickled or loaded there (a lambda, a closure, a function of a module
    the worker cannot import) is kept in a registry that workers forked later inherit; a
    worker forked too early to know it is replaced by a fresh one.
    """

    def __init__(
        self, messages: MessageQueue, *, size: int, environment: TaskEnvironment | None = None
    ) -> None:
        self._messages = messages
        self._environment = environment or TaskEnvironment(os.environ, frozenset(WITHHELD))
        """Workers start without its withheld variables; a task gets back what it keeps."""
        self._size = max(size, 1)
        self._lock = threading.RLock()
        self._pending: deque[PythonAttempt] = deque()
        self._workers: list[WorkerProcess] = []
        self._idle: list[WorkerProcess] = []
        self._registry: list[Task] = []
        self._registered: dict[int, int] = {}
        self._closed = False

    def prepare(self, spec: AttemptSpec, on_done: Callable[[int], None]) -> PythonAttempt:
        """The attempt, with its callable made ready to send; ``on_done(key)`` when it finished."""
        from runner.executors.local.callref import dumps_call  # pickle: for Python tasks only

        attempt = PythonAttempt(self, spec, on_done)
        try:
            attempt.call = dumps_call((spec.task.python, spec.task.args, spec.task.kwargs))
        except Exception:  # a lambda or closure raises PicklingError, AttributeError or TypeError
            with self._lock:
                self._use_registry(attempt)
        return attempt

    def submit(self, attempt: PythonAttempt) -> None:
        """Start the attempt on a free worker, or a new one if the pool may grow; else queue it."""
        spec = attempt.spec
        with self._lock:
            if self._closed:
                self._launch_without_process(attempt)
                self._finish(
                    attempt, AttemptFinished(spec.key, TaskState.CANCELLED, reason="shutdown")
                )
            else:
                self._pending.append(attempt)
                self._dispatch()

    def stop(self, attempt: PythonAttempt, state: TaskState, reason: str) -> None:
        """Stop an attempt: a waiting one finishes at once, a running one kills its worker."""
        with self._lock:
            if attempt.finished or attempt.stop is not None:
                return
            if attempt.worker is None:
                self._pending.remove(attempt)
                self._launch_without_process(attempt)
                self._finish(attempt, outcome.stopped(attempt.spec.key, state, reason, None))
                return
            worker = attempt.worker
            attempt.stop = GroupStop(worker.pid, grace=attempt.spec.kill_grace)
            attempt.stopped_as = (state, reason)
            attempt.stop.begin()
            worker.wake()

    def shutdown(self, timeout: float | None = None) -> None:
        """Cancel every attempt (reason "shutdown"), stop the workers and wait for them."""
        with self._lock:
            self._closed = True
            for attempt in list(self._pending):
                self.stop(attempt, TaskState.CANCELLED, "shutdown")
            for worker in self._workers:
                if worker.occupant is None:
                    worker.quit()
                elif isinstance(worker.occupant, PythonAttempt):
                    self.stop(worker.occupant, TaskState.CANCELLED, "shutdown")
            workers = list(self._workers)
        for worker in workers:
            worker.join(timeout)

    # Called on a worker's watching thread.

    def returned(self, worker: WorkerProcess, response: WorkerResponse) -> None:
        """A worker answered: finish its attempt and give it the next one."""
        from runner.executors.local.pyworker import Unresolved

        with self._lock:
            attempt = worker.occupant
            if not isinstance(attempt, PythonAttempt) or attempt.stop is not None:
                return  # a stopped attempt finishes when its worker is gone
            worker.occupant = None
            attempt.worker = None
            if isinstance(response, Unresolved) and isinstance(attempt.call, bytes):
                logger.debug(
                    "task %r resolved by registry: %s", attempt.spec.task.name, response.error
                )
                self._use_registry(attempt)
                self._pending.appendleft(attempt)
            else:
                self._finish(attempt, _finished(attempt, response))
            if self._closed:
                worker.quit()
            else:
                self._idle.append(worker)
            self._dispatch()

    def exited(self, worker: WorkerProcess, returncode: int) -> None:
        """A worker is gone: fail (or stop) the attempt it ran, and replace it if needed."""
        with self._lock:
            if worker in self._workers:  # a retired worker was already taken out
                self._workers.remove(worker)
            if worker in self._idle:
                self._idle.remove(worker)
            attempt = worker.occupant
            worker.occupant = None
            worker.close()
            if isinstance(attempt, PythonAttempt) and not attempt.finished:
                self._finish(attempt, _worker_died(attempt, returncode))
            self._dispatch()

    # With the lock held.

    def _dispatch(self) -> None:
        while self._pending and not self._closed:
            attempt = self._pending[0]
            worker = self._idle_worker(attempt.min_generation)
            if worker is None:
                try:
                    worker = self._fork(attempt.min_generation)
                except OSError as exc:
                    logger.error("cannot fork a Python worker: %s", exc)
                    self._pending.popleft()
                    self._launch_without_process(attempt)
                    error = f"cannot start a Python worker: {exc}"
                    self._finish(
                        attempt,
                        AttemptFinished(
                            attempt.spec.key, TaskState.FAILED, error=error, reason=error
                        ),
                    )
                    continue
                if worker is None:
                    return  # all busy: the next one to return picks this attempt up
            self._pending.popleft()
            self._assign(worker, attempt)

    def _idle_worker(self, min_generation: int) -> WorkerProcess | None:
        for index in range(len(self._idle) - 1, -1, -1):  # most recently used first: warmest
            if self._idle[index].generation >= min_generation:
                return self._idle.pop(index)
        return None

    def _fork(self, min_generation: int) -> WorkerProcess | None:
        if len(self._workers) >= self._size:
            if not self._idle:
                return None
            stale = self._idle.pop(0)  # knows too little of the registry: make room
            self._workers.remove(stale)
            stale.quit()
        from runner.executors.local.pyworker import fork_worker

        inherited = [fd for worker in self._workers for fd in worker.fds()]
        worker = fork_worker(self._registry, inherited, self, self._environment.withheld)
        assert worker.generation >= min_generation
        self._workers.append(worker)
        return worker

    def _assign(self, worker: WorkerProcess, attempt: PythonAttempt) -> None:
        spec = attempt.spec
        if not attempt.launched:
            attempt.out, attempt.err = attempt_captures(spec)
            attempt.launched = True
            self._messages.put(AttemptLaunched(spec.key, worker.pid, worker.start))
        from runner.executors.local.pyworker import WorkerRequest

        env = {**self._environment.kept(spec.task.env_inherit), **spec.env}
        request = WorkerRequest(
            spec.key, spec.task.name, attempt.call, spec.upstream_results, env, spec.task.cwd
        )
        import pickle

        try:
            payload = pickle.dumps(request, pickle.HIGHEST_PROTOCOL)
        except Exception as exc:  # e.g. an upstream result or env value that cannot be pickled
            self._idle.append(worker)
            self._finish(attempt, outcome.internal_error(spec.key, exc))
            return
        worker.occupant = attempt
        attempt.worker = worker
        try:
            worker.send(payload)
        except OSError as exc:  # it died while idle; its thread will tell us
            logger.warning(
                "Python worker %d is gone (%s); attempt %d goes to another",
                worker.pid,
                exc,
                spec.key,
            )
            worker.occupant = None
            attempt.worker = None
            self._pending.appendleft(attempt)

    def _use_registry(self, attempt: PythonAttempt) -> None:
        task = attempt.spec.task
        index = self._registered.get(id(task))
        if index is None:
            index = len(self._registry)
            self._registry.append(task)  # kept forever, so its id is never reused
            self._registered[id(task)] = index
        attempt.call = index
        attempt.min_generation = index + 1

    def _launch_without_process(self, attempt: PythonAttempt) -> None:
        if not attempt.launched:
            attempt.launched = True
            self._messages.put(AttemptLaunched(attempt.spec.key, None))

    def _finish(self, attempt: PythonAttempt, message: AttemptFinished) -> None:
        if attempt.finished:
            return
        attempt.finished = True
        attempt.out.close()
        attempt.err.close()
        attempt.on_done(attempt.spec.key)
        self._messages.put(message)


def _finished(attempt: PythonAttempt, response: WorkerResponse) -> AttemptFinished:
    from runner.executors.local.pyworker import Unresolved

    key = attempt.spec.key
    if isinstance(response, Unresolved):
        name = attempt.spec.task.name
        error = f"cannot load the callable of task {name!r} in a worker: {response.error}"
        return AttemptFinished(key, TaskState.FAILED, error=error, reason="callable not loadable")
    if response.state is TaskState.FAILED and response.error is None:
        response = CallOutcome(
            response.state, response.exit_code, attempt.err.tail(), response.reason
        )
    return response.finished(key)


def _worker_died(attempt: PythonAttempt, returncode: int) -> AttemptFinished:
    key = attempt.spec.key
    if attempt.stop is not None:
        return outcome.stopped(key, *attempt.stopped_as, returncode)
    if returncode < 0:
        reason = outcome.describe_signal(-returncode)
        return AttemptFinished(
            key, TaskState.FAILED, signal=-returncode, error=attempt.err.tail(), reason=reason
        )
    reason = f"worker exited with code {returncode}"
    return AttemptFinished(
        key, TaskState.FAILED, exit_code=returncode, error=attempt.err.tail(), reason=reason
    )
