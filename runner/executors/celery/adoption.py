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

from datetime import datetime
from typing import Any

from runner import exitstatus
from runner.store.heartbeats import decide_outcome, orphaned_outcome
from runner.store.recovery import adopted_outcome, kept_status, kill_leftover, still_kept
from runner.store.store import Store


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
    if gone and still_kept(attempt):
        return None
    status = kept_status(attempt) if gone else None
    outcome = orphaned_outcome(worker) if status is None else adopted_outcome(status)
    if not decide_outcome(store, attempt_id, outcome, stale_before=None if gone else stale_before):
        return None
    if status is None:
        kill_leftover(store.get_attempt(attempt_id))  # before anyone can retry it
    elif attempt.stdout_path is not None:
        exitstatus.discard(exitstatus.status_path(attempt.stdout_path))
    return outcome
