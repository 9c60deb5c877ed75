"""Attempt leases, for attempts run by remote workers: claim, renew, stop, outcome.

An attempt handed to a worker through a broker goes through two conditional UPDATEs,
each of which exactly one process can win:

1. *claim*: a worker sets ``heartbeat_at`` (and ``supervisor``) of a running attempt
   nobody has claimed; a redelivered message finds it claimed and is dropped, so an
   attempt never runs twice.
2. *decide*: whoever first sets ``outcome`` (the worker with the result, the engine
   stopping an unclaimed attempt, or a process that finds the heartbeat stale) decides
   how the attempt ended. The event is then written by ``Store.finish_attempt``,
   itself conditional, so it is written once.

A worker renews ``heartbeat_at`` while the attempt runs and reads ``stop_request``,
through which the engine cancels or times out the attempt.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from runner.model import RunState, TaskState
from runner.store.records import AttemptRecord, from_epoch, to_epoch
from runner.store.spine_sql import to_json

if TYPE_CHECKING:
    from runner.store.store import Store

logger = logging.getLogger(__name__)

__all__ = [
    "AttemptLease",
    "Claim",
    "Renewal",
    "claim_attempt",
    "claimed_attempts_of",
    "decide_outcome",
    "lease",
    "leases",
    "record_log_paths",
    "renew_attempt",
    "request_stop",
    "running_attempt_count",
    "unsettled_attempts",
]


class Claim(StrEnum):
    """What a worker's claim of an attempt found."""

    CLAIMED = "claimed"
    """This worker won the attempt: run it."""
    REFUSED = "refused"
    """Claimed before, stopped, or already ended: a redelivery or a late message."""
    MISSING = "missing"
    """No such attempt (pruned, or its dispatch was rolled back)."""


@dataclass(frozen=True)
class Renewal:
    """The answer to a heartbeat: whether the attempt is still this worker's to run."""

    kept: bool
    """False once someone else decided the attempt's outcome: stop it at once."""
    stop_request: Mapping[str, str] | None = None
    """``{"state": "cancelled"|"timed_out", "reason": …}`` when the engine asked to stop it."""


@dataclass(frozen=True)
class AttemptLease:
    """What the dispatching side needs to know of an attempt handed to a worker."""

    id: int
    state: TaskState
    supervisor: str | None
    heartbeat_at: datetime | None
    pid: int | None
    outcome: Mapping[str, Any] | None
    reason: str | None
    error: str | None
    stop_request: Mapping[str, str] | None

    @property
    def claimed(self) -> bool:
        """True once a worker has picked the attempt up."""
        return self.heartbeat_at is not None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> AttemptLease:
        """Build from an ``attempts`` row."""
        return cls(
            id=int(row["id"]),
            state=TaskState(row["state"]),
            supervisor=row["supervisor"],
            heartbeat_at=from_epoch(row["heartbeat_at"]),
            pid=row["pid"],
            outcome=None if row["outcome"] is None else json.loads(row["outcome"]),
            reason=row["reason"],
            error=row["error"],
            stop_request=None if row["stop_request"] is None else json.loads(row["stop_request"]),
        )


def claim_attempt(store: Store, attempt_id: int, worker: str, at: datetime) -> Claim:
    """Claim a running, never claimed, undecided attempt for ``worker`` (an identity)."""
    with store.transaction():
        won = store._db.execute(
            "UPDATE attempts SET supervisor = :worker, heartbeat_at = :at WHERE id = :id "
            "AND state = 'running' AND heartbeat_at IS NULL AND outcome IS NULL "
            "AND stop_request IS NULL",
            {"worker": worker, "at": to_epoch(at), "id": attempt_id},
        ).rowcount
    if won:
        return Claim.CLAIMED
    exists = store._db.scalar("SELECT 1 FROM attempts WHERE id = :id", {"id": attempt_id})
    return Claim.REFUSED if exists is not None else Claim.MISSING


def record_log_paths(
    store: Store,
    attempt_id: int,
    stdout: str | os.PathLike[str] | None,
    stderr: str | os.PathLike[str] | None,
) -> None:
    """Record where the worker that claimed a running attempt writes its output."""
    with store.transaction():
        store._db.execute(
            "UPDATE attempts SET stdout_path = :out, stderr_path = :err "
            "WHERE id = :id AND state = 'running'",
            {
                "out": None if stdout is None else str(stdout),
                "err": None if stderr is None else str(stderr),
                "id": attempt_id,
            },
        )


def renew_attempt(store: Store, attempt_id: int, at: datetime) -> Renewal:
    """Record that the claiming worker still runs the attempt; tell it whether to go on."""
    with store.transaction():
        rows = store._db.rows(
            "UPDATE attempts SET heartbeat_at = :at WHERE id = :id AND state = 'running' "
            "AND outcome IS NULL RETURNING stop_request",
            {"at": to_epoch(at), "id": attempt_id},
        )
    if not rows:
        return Renewal(kept=False)
    request = rows[0]["stop_request"]
    return Renewal(kept=True, stop_request=None if request is None else json.loads(request))


def decide_outcome(
    store: Store,
    attempt_id: int,
    outcome: Mapping[str, Any],
    *,
    stale_before: datetime | None = None,
) -> bool:
    """Set the attempt's outcome unless someone already did; True when this call decided.

    With ``stale_before``, only decide when no worker has claimed the attempt or its
    last heartbeat is older (the judgement of an orphan), so a worker that just claimed
    or renewed it keeps it.
    """
    stale = (
        " AND (heartbeat_at IS NULL OR heartbeat_at < :stale)" if stale_before is not None else ""
    )
    with store.transaction():
        won = store._db.execute(
            "UPDATE attempts SET outcome = :outcome "
            f"WHERE id = :id AND state = 'running' AND outcome IS NULL{stale}",
            {
                "outcome": to_json(outcome),
                "id": attempt_id,
                "stale": None if stale_before is None else to_epoch(stale_before),
            },
        ).rowcount
    return bool(won)


def request_stop(store: Store, attempt_id: int, request: Mapping[str, str]) -> bool | None:
    """Ask the worker running an attempt to stop it (``{"state": …, "reason": …}``).

    An attempt no worker has claimed yet is decided at once, as stopped: its message is
    refused when it arrives. Returns True when it was decided here, False when its
    worker was asked, None when the attempt had already ended or was decided.
    """
    outcome = to_json({"state": request["state"], "reason": request["reason"]})
    with store.transaction():
        rows = store._db.rows(
            "UPDATE attempts SET stop_request = :request, "
            "outcome = CASE WHEN heartbeat_at IS NULL THEN :outcome ELSE outcome END "
            "WHERE id = :id AND state = 'running' AND outcome IS NULL "
            "RETURNING outcome",
            {"request": to_json(request), "outcome": outcome, "id": attempt_id},
        )
    if not rows:
        return None
    return rows[0]["outcome"] is not None


def leases(store: Store, attempt_ids: Iterable[int]) -> list[AttemptLease]:
    """The claim, heartbeat and outcome of these attempts (missing ones are left out)."""
    ids = sorted(set(attempt_ids))
    found: list[AttemptLease] = []
    for start in range(0, len(ids), 500):  # bounded statements, whatever the backlog
        chunk = ids[start : start + 500]
        params = {f"i{n}": v for n, v in enumerate(chunk)}
        marks = ", ".join(f":{k}" for k in params)
        rows = store._db.rows(
            "SELECT id, state, supervisor, heartbeat_at, pid, outcome, reason, error, "
            "stop_request "
            f"FROM attempts WHERE id IN ({marks})",
            params,
        )
        found.extend(AttemptLease.from_row(r) for r in rows)
    return found


def lease(store: Store, attempt_id: int) -> AttemptLease | None:
    """The claim, heartbeat, stop request and outcome of one attempt."""
    found = leases(store, [attempt_id])
    return found[0] if found else None


def claimed_attempts_of(store: Store, identity: str) -> list[tuple[AttemptRecord, AttemptLease]]:
    """Running attempts a worker claimed, of the running runs ``identity`` supervises."""
    rows = store._db.rows(
        "SELECT a.* FROM attempts a JOIN runs r ON r.id = a.run_id "
        "WHERE a.state = 'running' AND a.heartbeat_at IS NOT NULL "
        "AND r.state = :running AND r.supervisor = :s ORDER BY a.id",
        {"running": RunState.RUNNING.value, "s": identity},
    )
    return [(AttemptRecord.from_row(r), AttemptLease.from_row(r)) for r in rows]


def unsettled_attempts(store: Store) -> list[tuple[AttemptRecord, AttemptLease]]:
    """Running attempts of runs that are no longer running: nobody will record their end.

    Left by a dispatching process that died (its runs were failed as orphaned) while a
    worker still ran, or had not yet picked up, one of its attempts.
    """
    rows = store._db.rows(
        "SELECT a.* FROM attempts a JOIN runs r ON r.id = a.run_id "
        "WHERE a.state = 'running' AND r.state <> :running ORDER BY a.id",
        {"running": RunState.RUNNING.value},
    )
    return [(AttemptRecord.from_row(r), AttemptLease.from_row(r)) for r in rows]


def running_attempt_count(store: Store, run_id: int) -> int:
    """How many attempts of a run are still running (on a worker, or undecided)."""
    return int(
        store._db.scalar(
            "SELECT COUNT(*) FROM attempts WHERE run_id = :id AND state = 'running'",
            {"id": run_id},
        )
    )
