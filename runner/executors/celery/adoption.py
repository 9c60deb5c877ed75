"""The end of a claimed attempt whose worker died or went silent: adopted or orphaned.

A worker runs each command under a keeper (runner.executors.local.keeper) in a session
of its own, so the command outlives a worker killed by SIGKILL. On the worker's host,
whoever judges the attempt waits while the keeper runs, then decides the outcome the
keeper wrote to the attempt's status file: the attempt is *adopted*, its real exit code
recorded, and it is not run again. Without a status file to read (another host, no
keeper, or a worker that is only silent) the attempt is decided ``orphaned`` and its
leftover process on this host killed first, so a retry never runs beside it.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Any

from runner import exitstatus, processes
from runner.clock import Clock, utcnow
from runner.errors import StoreError
from runner.model import TaskState
from runner.store.leases import Renewal, decide_outcome, renew_attempt
from runner.store.records import AttemptRecord
from runner.store.recovery import (
    adopted_outcome,
    kept_status,
    kill_leftover,
    orphaned_outcome,
    still_kept,
    with_spawned_process,
    worker_attempts_here,
)
from runner.store.store import Store

logger = logging.getLogger(__name__)


def settle_lost_worker(
    store: Store, attempt_id: int, worker: str, *, gone: bool, stale_before: datetime
) -> dict[str, Any] | None:
    """Decide the outcome of a claimed attempt whose worker is ``gone`` (dead, on this
    host) or whose heartbeat is older than ``stale_before``.

    Returns the outcome this call decided: adopted from the status file, else orphaned.
    None when it decided nothing: the command still runs under its keeper here (judge it
    again later), someone else decided first, or the worker renewed its heartbeat.
    """
    attempt = store.get_attempt(attempt_id)
    if gone:
        known = with_spawned_process(store, attempt)
        if known is None:
            return None
        if still_kept(known):
            keep_lease(store, known, utcnow())
            return None
        attempt = known
    status = kept_status(attempt) if gone else None
    outcome = orphaned_outcome(worker) if status is None else adopted_outcome(status)
    if not decide_outcome(store, attempt_id, outcome, stale_before=None if gone else stale_before):
        return None
    if status is None:
        kill_leftover(store.get_attempt(attempt_id))  # before anyone can retry it
    elif attempt.stdout_path is not None:
        exitstatus.discard(exitstatus.status_path(attempt.stdout_path))
    return outcome


def keep_lease(store: Store, attempt: AttemptRecord, now: datetime) -> Renewal:
    """Renew the lease of an attempt whose command runs on under its keeper here, its
    worker gone: in the store, for schedulers on other hosts, and on its status file, for the
    keeper, which stops a command whose lease nobody renews (``kept_command_fence``)."""
    renewal = renew_attempt(store, attempt.id, now)
    if renewal.kept and attempt.stdout_path is not None:
        exitstatus.renew(exitstatus.status_path(attempt.stdout_path))
    return renewal


class KeptCommands:
    """Run by `runwatch worker`'s main process: looks after the attempts of this host's
    worker processes that died (a worker killed and restarted, say).

    While such an attempt's command still runs under its keeper, its lease is renewed, so
    no scheduler on another host judges it orphaned and runs it again beside it; a stop
    the engine asks for kills it. Once the keeper has ended, the outcome in its status
    file is recorded (adopted). A command whose attempt someone else has already decided
    (orphaned, to be retried) is killed: the dead worker can no longer fence it.
    """

    def __init__(self, store: Store, clock: Clock = utcnow) -> None:
        self.store = store
        self.clock = clock

    def run(self) -> list[int]:
        """One pass; the ids of the attempts whose outcome it decided."""
        now = self.clock()
        decided = []
        for found in worker_attempts_here(self.store, now - ORPHANED_FENCE_WINDOW):
            if found.supervisor is None or processes.is_alive(found.supervisor):
                continue  # its worker process lives and looks after it
            attempt = with_spawned_process(self.store, found)
            if attempt is None:
                continue  # its keeper is spawning it: look again next pass
            if still_kept(attempt):
                if self._keep(attempt, now):
                    decided.append(attempt.id)
            elif attempt.state is TaskState.RUNNING:
                who = f"worker {attempt.supervisor}"
                if settle_lost_worker(self.store, attempt.id, who, gone=True, stale_before=now):
                    decided.append(attempt.id)
        return decided

    def _keep(self, attempt: AttemptRecord, now: datetime) -> bool:
        """Renew a kept command's lease, or kill it when it is no longer its to run; True
        when a stop request was decided."""
        kept = attempt.state is TaskState.RUNNING
        renewal = keep_lease(self.store, attempt, now) if kept else None
        if renewal is None or not renewal.kept:
            logger.warning(
                "killing the command of attempt %d of %s/%s: its worker %s died and the "
                "attempt was decided elsewhere",
                attempt.id, attempt.job, attempt.task, attempt.supervisor,
                extra={"job": attempt.job, "run_id": attempt.run_id},
            )  # fmt: skip
            kill_leftover(attempt)
            return False
        if renewal.stop_request is None:
            return False
        request = renewal.stop_request
        kill_leftover(attempt)
        return decide_outcome(
            self.store,
            attempt.id,
            {
                "state": request.get("state", TaskState.CANCELLED.value),
                "reason": request.get("reason", "stopped"),
            },
        )


ORPHANED_FENCE_WINDOW = timedelta(hours=1)
"""Attempts failed ``orphaned`` this recently are checked for a command still running."""


def watch_kept_commands(db_url: str, every: float, stop: threading.Event) -> None:
    """``KeptCommands`` passes at once and then every ``every`` seconds until ``stop`` is
    set, on a store connection of their own; a failed pass is logged, the next retries."""
    store = Store.open(db_url, migrate=False, recover=False)
    try:
        commands = KeptCommands(store)
        while True:
            try:
                commands.run()
            except StoreError as exc:
                logger.warning("looking after the commands of dead worker processes: %s", exc)
            if stop.wait(every):
                return
    finally:
        store.close()
