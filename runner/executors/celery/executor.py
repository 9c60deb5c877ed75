"""The Celery executor: attempts go to workers through the broker, outcomes come back
through the store.

The engine calls ``submit``, ``cancel`` and ``time_out`` on its own thread; they only
queue a command. One thread of the executor, with a store connection of its own, does
the rest: it publishes an attempt once the engine's transaction that created it has
committed (a worker must find the row it is to claim), writes stop requests, and polls
the attempts it dispatched. A claim with a process id becomes ``AttemptLaunched``; an
outcome, decided by the worker or by this executor, becomes ``AttemptFinished``, after
which the engine writes the attempt's event, once (``Store.finish_attempt`` is
conditional). A claimed attempt whose worker stopped heartbeating (or whose worker
process on this host is gone) is decided as failed ``orphaned``: the engine retries it
per the task's policy, and the worker, should it still live, finds its attempt taken
at its next heartbeat and kills it.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from runner import processes
from runner.clock import Clock, utcnow
from runner.engine.executor import AttemptFinished, AttemptLaunched, AttemptSpec, MessageQueue
from runner.executors.celery.adoption import settle_lost_worker
from runner.executors.celery.app import TASK_NAME, create_app
from runner.executors.celery.message import AttemptMessage, finished_from_outcome
from runner.executors.celery.settings import CelerySettings
from runner.executors.celery.signing import sign
from runner.model import TaskState
from runner.store.leases import (
    AttemptLease,
    decide_outcome,
    leases,
    request_stop,
)
from runner.store.store import Store

logger = logging.getLogger(__name__)

_UNCOMMITTED_RECHECK_SECONDS = 0.005
"""How soon to look again for attempt rows the engine has not committed yet."""
_SHUTDOWN_JOIN_SECONDS = 10.0
_MAX_BACKOFF_SECONDS = 5.0


@dataclass(frozen=True)
class _Submit:
    spec: AttemptSpec


@dataclass(frozen=True)
class _Stop:
    key: int
    state: TaskState
    reason: str


@dataclass(frozen=True)
class _Shutdown:
    pass


_Command = _Submit | _Stop | _Shutdown


@dataclass
class _Dispatched:
    spec: AttemptSpec
    first_sent_at: datetime
    sent_at: datetime
    launched: bool = False
    resent: bool = False


class CeleryExecutor:
    """Runs attempts on Celery workers and reports on ``messages``; implements ``Executor``."""

    def __init__(
        self,
        messages: MessageQueue,
        settings: CelerySettings,
        *,
        db_url: str,
        app: Any = None,
        clock: Clock = utcnow,
    ) -> None:
        self._messages = messages
        self._settings = settings
        self._db_url = db_url
        self._app = app if app is not None else create_app(settings)
        self._clock = clock
        self._commands: queue.SimpleQueue[_Command] = queue.SimpleQueue()
        self._wake = threading.Event()
        self._closed = False
        self._lock = threading.Lock()
        # Owned by the executor's thread:
        self._pending: dict[int, AttemptSpec] = {}
        self._dispatched: dict[int, _Dispatched] = {}
        self._thread = threading.Thread(
            target=self._loop, name="runwatch-celery-executor", daemon=True
        )
        self._thread.start()

    # -- the Executor protocol (engine thread) --------------------------------------

    def submit(self, spec: AttemptSpec) -> None:
        """Send the attempt to the task's queue (or the default one); never blocks."""
        self._command(_Submit(spec))

    def cancel(self, key: int, *, reason: str) -> None:
        """Ask the attempt's worker to stop it; it then finishes as cancelled."""
        self._command(_Stop(key, TaskState.CANCELLED, reason))

    def time_out(self, key: int) -> None:
        """Ask the attempt's worker to stop it; it then finishes as timed_out."""
        self._command(_Stop(key, TaskState.TIMED_OUT, "timed out"))

    def shutdown(self) -> None:
        """Ask workers to cancel what still runs (reason "shutdown") and stop; idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._commands.put(_Shutdown())
        self._wake.set()
        self._thread.join(_SHUTDOWN_JOIN_SECONDS)

    def _command(self, command: _Command) -> None:
        with self._lock:
            closed = self._closed
        if closed and isinstance(command, _Submit):
            key = command.spec.key
            self._messages.put(AttemptLaunched(key, None))
            self._messages.put(AttemptFinished(key, TaskState.CANCELLED, reason="shutdown"))
            return
        self._commands.put(command)
        self._wake.set()

    # -- the executor's thread ------------------------------------------------------

    def _loop(self) -> None:
        store: Store | None = None
        stopping = False
        failures = 0
        while not stopping:
            wait = _UNCOMMITTED_RECHECK_SECONDS if self._pending else self._settings.poll_interval
            if failures:  # back off while the store is down, up to a few seconds
                wait = min(_MAX_BACKOFF_SECONDS, self._settings.poll_interval * 2**failures)
            self._wake.wait(wait)
            self._wake.clear()
            try:
                if store is None:
                    store = Store.open(self._db_url, migrate=False, recover=False)
                stopping = self._drain(store)
                if not stopping:
                    self._publish(store)
                    self._poll(store, self._clock())
                failures = 0
            except Exception:  # the store or broker is down: log, reconnect, go on
                failures = min(failures + 1, 8)
                logger.exception("the Celery executor's pass failed; retrying")
                if store is not None:
                    store.close()
                    store = None
        if store is not None:
            store.close()

    def _drain(self, store: Store) -> bool:
        while True:
            try:
                command = self._commands.get_nowait()
            except queue.Empty:
                return False
            if isinstance(command, _Submit):
                self._pending[command.spec.key] = command.spec
            elif isinstance(command, _Stop):
                self._stop(store, command.key, command.state, command.reason)
            else:
                for key in list(self._pending) + list(self._dispatched):
                    self._stop(store, key, TaskState.CANCELLED, "shutdown")
                return True

    def _stop(self, store: Store, key: int, state: TaskState, reason: str) -> None:
        if key in self._pending:  # never sent: no worker can have it
            del self._pending[key]
            self._messages.put(AttemptLaunched(key, None))
            self._messages.put(AttemptFinished(key, state, reason=reason))
            return
        if key not in self._dispatched:
            logger.debug("attempt %d is not running; nothing to stop", key)
            return
        request_stop(store, key, {"state": state.value, "reason": reason})
        self._wake.set()  # an attempt stopped before any worker claimed it ends at once

    def _publish(self, store: Store) -> None:
        if not self._pending:
            return
        committed = {lease.id for lease in leases(store, self._pending)}
        now = self._clock()
        for key in [k for k in self._pending if k in committed]:
            spec = self._pending.pop(key)
            self._dispatched[key] = _Dispatched(spec, now, now)
            self._send(store, key, spec)

    def _send(self, store: Store, key: int, spec: AttemptSpec) -> None:
        """Publish the attempt's message; fail the attempt when the broker is unreachable."""
        target = spec.task.queue or self._settings.queue
        payload = AttemptMessage.from_spec(spec, target).to_payload()
        if self._settings.signing_key is not None:
            payload = sign(payload, self._settings.signing_key)
        try:
            self._app.send_task(TASK_NAME, args=[payload], queue=target)
        except Exception as exc:  # kombu's OperationalError and friends, after retries
            logger.error(
                "cannot send attempt %d of %s/%s to the broker at %s: %s",
                key, spec.job, spec.task.name, self._settings.broker_redacted, exc,
                extra={"job": spec.job, "run_id": spec.run_id},
            )  # fmt: skip
            decide_outcome(
                store,
                key,
                {
                    "state": TaskState.FAILED.value,
                    "reason": "broker unreachable",
                    "error": f"cannot send the attempt to the broker at "
                    f"{self._settings.broker_redacted}: {type(exc).__name__}",
                },
            )

    def _poll(self, store: Store, now: datetime) -> None:
        if not self._dispatched:
            return
        found = {lease.id: lease for lease in leases(store, self._dispatched)}
        for key, dispatched in list(self._dispatched.items()):
            lease = found.get(key)
            if lease is None:
                self._finish(
                    dispatched,
                    None,
                    AttemptFinished(key, TaskState.FAILED, error="the attempt's row is gone"),
                )
            elif lease.outcome is not None:
                self._finish(dispatched, lease.pid, finished_from_outcome(key, lease.outcome))
            elif lease.state is not TaskState.RUNNING:  # ended by another process's recovery
                ended = AttemptFinished(key, lease.state, error=lease.error, reason=lease.reason)
                self._finish(dispatched, lease.pid, ended)
            elif lease.claimed:
                if not dispatched.launched and lease.pid is not None:
                    self._messages.put(AttemptLaunched(key, lease.pid))
                    dispatched.launched = True
                self._judge(store, dispatched, lease, now)
            elif now - dispatched.sent_at >= timedelta(seconds=self._settings.claim_timeout):
                self._unclaimed(store, key, dispatched, now)

    def _unclaimed(self, store: Store, key: int, dispatched: _Dispatched, now: datetime) -> None:
        """No worker claimed the attempt in time (its message lost, say, with a broker
        restarted empty): send it once more; after a second miss, fail it with the reason."""
        spec = dispatched.spec
        target = spec.task.queue or self._settings.queue
        waited = f"{self._settings.claim_timeout:g}s"
        if not dispatched.resent:
            logger.warning(
                "attempt %d of %s/%s not claimed by a worker within %s: sent again to queue %s",
                key, spec.job, spec.task.name, waited, target,
                extra={"job": spec.job, "run_id": spec.run_id},
            )  # fmt: skip
            dispatched.resent, dispatched.sent_at = True, now
            self._send(store, key, spec)
            return
        error = (
            f"no worker claimed the attempt within {waited}, twice, on queue {target!r} of "
            f"the broker at {self._settings.broker_redacted}: is a `runwatch worker` "
            "consuming that queue?"
        )
        # A worker that claims it meanwhile keeps it; one that comes later is refused.
        outcome = {"state": TaskState.FAILED.value, "reason": "not claimed", "error": error}
        if decide_outcome(store, key, outcome, stale_before=dispatched.first_sent_at):
            logger.error(
                "attempt %d of %s/%s failed: %s", key, spec.job, spec.task.name, error,
                extra={"job": spec.job, "run_id": spec.run_id},
            )  # fmt: skip
            self._wake.set()

    def _finish(self, dispatched: _Dispatched, pid: int | None, ended: AttemptFinished) -> None:
        if not dispatched.launched:
            self._messages.put(AttemptLaunched(ended.key, pid))
        self._messages.put(ended)
        del self._dispatched[ended.key]

    def _judge(
        self, store: Store, dispatched: _Dispatched, lease: AttemptLease, now: datetime
    ) -> None:
        """Decide a claimed attempt whose worker is gone or silent: adopted when its command
        ran on under its keeper here and has ended, else orphaned."""
        worker = lease.supervisor or "its worker"
        gone = (
            lease.supervisor is not None
            and processes.is_local(lease.supervisor)
            and not processes.is_alive(lease.supervisor)
        )
        stale_before = now - timedelta(seconds=self._settings.orphan_after)
        assert lease.heartbeat_at is not None
        if not gone and lease.heartbeat_at >= stale_before:
            return
        decided = settle_lost_worker(
            store, lease.id, f"worker {worker}", gone=gone, stale_before=stale_before
        )
        if decided is not None:
            spec = dispatched.spec
            logger.warning(
                "attempt %d of %s/%s %s: worker %s %s",
                lease.id, spec.job, spec.task.name, decided["reason"], worker,
                "is gone" if gone else "stopped heartbeating",
                extra={"job": spec.job, "run_id": spec.run_id},
            )  # fmt: skip
            self._wake.set()
