"""The outbox's rows (``notifications``): claims, leases and delivery outcomes.

A sender claims a row with a conditional UPDATE (only one claimant's UPDATE matches);
every change of a claimed row names its claimant, so a sender that lost its claim
changes nothing. alerting.outbox holds the delivery rules over these rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from runner.store.records import to_epoch

if TYPE_CHECKING:
    from runner.store.store import Store


class NotificationStatus(StrEnum):
    """Where a notification is in its delivery."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    POSSIBLY_DELIVERED = "possibly_delivered"


_CLAIMABLE = "(status = 'pending' AND next_attempt_at <= :now)"


def in_flight(store: Store) -> list[dict[str, Any]]:
    """Rows being sent: ``id``, ``receiver``, ``claimed_by``, ``claim_expires_at``, ``payload``."""
    return store._db.rows(
        "SELECT id, receiver, claimed_by, claim_expires_at, payload FROM notifications "
        "WHERE status = 'sending'"
    )


def take_over(
    store: Store, row_id: int, claimant: str, now: datetime, *, error: str, payload: str | None
) -> bool:
    """End ``claimant``'s claim of a row: back to pending with ``payload`` (to send again),
    or, with ``payload`` None, recorded possibly delivered. False if the claim had ended."""
    sets = (
        "status = 'possibly_delivered'"
        if payload is None
        else "status = 'pending', next_attempt_at = :now, payload = :payload"
    )
    with store._db.transaction():
        cur = store._db.execute(
            f"UPDATE notifications SET {sets}, last_error = :error, claimed_by = NULL, "
            "claim_expires_at = NULL WHERE id = :id AND status = 'sending' "
            "AND claimed_by = :claimant",
            {
                "now": to_epoch(now),
                "error": error,
                "id": row_id,
                "claimant": claimant,
                "payload": payload,
            },
        )
    return cur.rowcount == 1


def insert_notification(
    store: Store,
    receiver: str,
    group_key: str,
    payload: str,
    now: datetime,
    *,
    fallback_of: int | None = None,
) -> int:
    """Store a pending notification, due now; its id."""
    with store._db.transaction():
        new_id = store._db.scalar(
            "INSERT INTO notifications (receiver, group_key, status, payload, attempts, "
            "next_attempt_at, created_at, fallback_of) VALUES (:receiver, :group, 'pending', "
            ":payload, 0, :now, :now, :fallback) RETURNING id",
            {
                "receiver": receiver,
                "group": group_key,
                "payload": payload,
                "now": to_epoch(now),
                "fallback": fallback_of,
            },
        )
    return int(new_id)


def insert_notifications(
    store: Store, rows: Sequence[tuple[str, str, str, datetime]], now: datetime
) -> None:
    """Store pending notifications due now, given as (receiver, group key, payload,
    created at), in one statement."""
    store._db.executemany(
        "INSERT INTO notifications (receiver, group_key, status, payload, attempts, "
        "next_attempt_at, created_at) VALUES (:receiver, :group, 'pending', :payload, 0, "
        ":now, :created)",
        [
            {
                "receiver": receiver,
                "group": group,
                "payload": payload,
                "now": to_epoch(now),
                "created": to_epoch(created),
            }
            for receiver, group, payload, created in rows
        ],
    )


def claimable(store: Store, now: datetime, limit: int) -> list[tuple[int, str]]:
    """(id, receiver) of rows that may be claimed now: the oldest unsent row of each group."""
    rows = store._db.rows(
        f"SELECT id, receiver FROM notifications n WHERE {_CLAIMABLE} AND NOT EXISTS ("
        "SELECT 1 FROM notifications p WHERE p.group_key = n.group_key AND p.id < n.id "
        "AND p.status IN ('pending', 'sending')) ORDER BY id LIMIT :limit",
        {"now": to_epoch(now), "limit": limit},
    )
    return [(int(r["id"]), r["receiver"]) for r in rows]


def claim(
    store: Store, row_id: int, sender: str, now: datetime, lease_seconds: float
) -> dict[str, Any] | None:
    """Take a row for sending (counting one attempt); the row, None when another sender
    has it."""
    with store._db.transaction():
        cur = store._db.execute(
            "UPDATE notifications SET status = 'sending', claimed_by = :sender, "
            "claim_expires_at = :until, attempts = attempts + 1 "
            f"WHERE id = :id AND {_CLAIMABLE}",
            {
                "sender": sender,
                "until": to_epoch(now) + lease_seconds,
                "id": row_id,
                "now": to_epoch(now),
            },
        )
        if cur.rowcount != 1:
            return None
        return store._db.rows("SELECT * FROM notifications WHERE id = :id", {"id": row_id})[0]


def _finish(store: Store, row_id: int, sender: str, sets: str, params: dict[str, Any]) -> bool:
    with store._db.transaction():
        cur = store._db.execute(
            f"UPDATE notifications SET {sets}, claimed_by = NULL, claim_expires_at = NULL "
            "WHERE id = :id AND status = 'sending' AND claimed_by = :sender",
            {**params, "id": row_id, "sender": sender},
        )
        return cur.rowcount == 1


def mark_sent(store: Store, row_id: int, sender: str, now: datetime) -> bool:
    """Record a delivery; False if the claim was lost (lease ran out) meanwhile."""
    return _finish(
        store,
        row_id,
        sender,
        "status = 'sent', sent_at = :now, last_error = NULL",
        {"now": to_epoch(now)},
    )


def mark_retry(store: Store, row_id: int, sender: str, next_at: datetime, error: str) -> bool:
    """Put a row back for another attempt at ``next_at``."""
    return _finish(
        store,
        row_id,
        sender,
        "status = 'pending', next_attempt_at = :next, last_error = :error",
        {"next": to_epoch(next_at), "error": error},
    )


def mark_failed(store: Store, row_id: int, sender: str, error: str) -> bool:
    """Give up on a row: a permanent error, or the retry budget is spent."""
    return _finish(
        store, row_id, sender, "status = 'failed', last_error = :error", {"error": error}
    )


def defer_receiver(store: Store, receiver: str, until: datetime) -> int:
    """Hold back a rate-limited receiver's pending rows until ``until``; how many."""
    with store._db.transaction():
        cur = store._db.execute(
            "UPDATE notifications SET next_attempt_at = :until WHERE receiver = :receiver "
            "AND status = 'pending' AND next_attempt_at < :until",
            {"until": to_epoch(until), "receiver": receiver},
        )
    return int(cur.rowcount)


def notification_rows(
    store: Store, status: NotificationStatus | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    """Stored notifications, newest first."""
    where = "WHERE status = :status" if status else ""
    return store._db.rows(
        f"SELECT * FROM notifications {where} ORDER BY id DESC LIMIT :limit",
        {"status": status.value if status else None, "limit": limit},
    )


def counts_by_receiver(store: Store) -> dict[tuple[str, str], int]:
    """Notifications by (receiver, status)."""
    rows = store._db.rows(
        "SELECT receiver, status, COUNT(*) AS n FROM notifications GROUP BY receiver, status"
    )
    return {(r["receiver"], r["status"]): int(r["n"]) for r in rows}
