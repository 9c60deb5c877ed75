"""The outbox: notifications are rows in the store before anything is sent.

A sender claims a row with a conditional UPDATE (only one claimant's UPDATE matches), so
senders in several processes never send the same row; each claim is recorded before
sending and the outcome after; rows of one alert group are sent in order (a resolve
never overtakes its firing).

A claim names its sender's process (``host:pid:start`` from ``runner.processes``) and
is a lease. A row left ``sending`` by a sender that is known dead (a process of this
host that no longer exists) or whose lease ran out may or may not have reached the
receiver: ``release_stale`` puts it back for sending only when the receiver has an
idempotency key (a repeat is harmless), and otherwise records it as
``possibly_delivered`` and never sends it again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from alerting.notification import Notification
from runner.store.database import Database
from runner.store.records import from_epoch, to_epoch


class NotificationStatus(StrEnum):
    """Where a notification is in its delivery."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"
    POSSIBLY_DELIVERED = "possibly_delivered"


@dataclass(frozen=True)
class OutboxRow:
    """One stored notification with its delivery record."""

    id: int
    receiver: str
    group_key: str
    status: NotificationStatus
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    sent_at: datetime | None
    last_error: str | None
    fallback_of: int | None
    notification: Notification

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> OutboxRow:
        """From a ``notifications`` row."""
        return cls(
            id=int(row["id"]),
            receiver=row["receiver"],
            group_key=row["group_key"],
            status=NotificationStatus(row["status"]),
            attempts=int(row["attempts"]),
            next_attempt_at=from_epoch(row["next_attempt_at"]),
            created_at=from_epoch(row["created_at"]),
            sent_at=from_epoch(row["sent_at"]),
            last_error=row["last_error"],
            fallback_of=None if row["fallback_of"] is None else int(row["fallback_of"]),
            notification=Notification.from_json(row["payload"], notification_id=int(row["id"])),
        )


_CLAIMABLE = "(status = 'pending' AND next_attempt_at <= :now)"


def claimant_process(claimed_by: str) -> str:
    """The process identity in a claim (``host:pid:start``), without the sender suffix."""
    return claimed_by.split("/", 1)[0]


def release_stale(
    db: Database,
    now: datetime,
    *,
    alive: Callable[[str], bool],
    idempotent: Callable[[str, Notification], bool],
) -> tuple[int, int]:
    """Take over the rows whose sender died (``alive`` is False for its process) or whose
    lease ran out: back to pending where the receiver is ``idempotent``, else recorded
    ``possibly_delivered``. Returns (resent, possibly delivered)."""
    rows = db.rows(
        "SELECT id, receiver, claimed_by, claim_expires_at, payload FROM notifications "
        "WHERE status = 'sending'"
    )
    resent = possibly = 0
    for row in rows:
        claimant = row["claimed_by"] or ""
        expired = row["claim_expires_at"] is not None and float(row["claim_expires_at"]) < (
            to_epoch(now)
        )
        if not expired and alive(claimant_process(claimant)):
            continue
        note = replace(Notification.from_json(row["payload"]), redelivery=True)
        again = idempotent(row["receiver"], note)
        sets = (
            "status = 'pending', next_attempt_at = :now, payload = :payload"
            if again
            else "status = 'possibly_delivered'"
        )
        why = "lease ran out" if expired else "sender died"
        error = f"{why} during the send by {claimant}; " + (
            "sent again with the receiver's idempotency key" if again else "not sent again"
        )
        with db.transaction():
            cur = db.execute(
                f"UPDATE notifications SET {sets}, last_error = :error, claimed_by = NULL, "
                "claim_expires_at = NULL WHERE id = :id AND status = 'sending' "
                "AND claimed_by = :claimant",
                {
                    "now": to_epoch(now),
                    "error": error,
                    "id": row["id"],
                    "claimant": claimant,
                    "payload": note.to_json(),
                },
            )
        if cur.rowcount == 1:
            resent += again
            possibly += not again
    return resent, possibly


def enqueue(
    db: Database,
    notification: Notification,
    now: datetime,
    *,
    receiver: str | None = None,
    group_key: str | None = None,
    fallback_of: int | None = None,
) -> int:
    """Store a notification for delivery as soon as possible; its id."""
    with db.transaction():
        new_id = db.scalar(
            "INSERT INTO notifications (receiver, group_key, status, payload, attempts, "
            "next_attempt_at, created_at, fallback_of) VALUES (:receiver, :group, 'pending', "
            ":payload, 0, :now, :now, :fallback) RETURNING id",
            {
                "receiver": receiver or notification.receiver,
                "group": group_key or notification.group_key,
                "payload": notification.to_json(),
                "now": to_epoch(now),
                "fallback": fallback_of,
            },
        )
    return int(new_id)


def enqueue_many(db: Database, notifications: Sequence[Notification], now: datetime) -> None:
    """Store notifications for delivery as soon as possible, in one batch.

    For the engine, inside its transaction: one statement for the lot, where
    ``enqueue`` would cost a savepoint and an INSERT … RETURNING each. A row's
    ``created_at`` is the notification's own time (its group's due time).
    """
    db.executemany(
        "INSERT INTO notifications (receiver, group_key, status, payload, attempts, "
        "next_attempt_at, created_at) VALUES (:receiver, :group, 'pending', :payload, 0, "
        ":now, :created)",
        [
            {
                "receiver": n.receiver,
                "group": n.group_key,
                "payload": n.to_json(),
                "now": to_epoch(now),
                "created": to_epoch(n.created_at),
            }
            for n in notifications
        ],
    )


def due(db: Database, now: datetime, limit: int = 100) -> list[tuple[int, str]]:
    """(id, receiver) of rows that may be claimed now: the oldest unsent row of each group."""
    rows = db.rows(
        f"SELECT id, receiver FROM notifications n WHERE {_CLAIMABLE} AND NOT EXISTS ("
        "SELECT 1 FROM notifications p WHERE p.group_key = n.group_key AND p.id < n.id "
        "AND p.status IN ('pending', 'sending')) ORDER BY id LIMIT :limit",
        {"now": to_epoch(now), "limit": limit},
    )
    return [(int(r["id"]), r["receiver"]) for r in rows]


def claim(
    db: Database, row_id: int, sender: str, now: datetime, lease_seconds: float
) -> OutboxRow | None:
    """Take a row for sending (counting one attempt); None when another sender has it."""
    with db.transaction():
        cur = db.execute(
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
        rows = db.rows("SELECT * FROM notifications WHERE id = :id", {"id": row_id})
    return OutboxRow.from_row(rows[0])


def _finish(db: Database, row_id: int, sender: str, sets: str, params: dict[str, Any]) -> bool:
    with db.transaction():
        cur = db.execute(
            f"UPDATE notifications SET {sets}, claimed_by = NULL, claim_expires_at = NULL "
            "WHERE id = :id AND status = 'sending' AND claimed_by = :sender",
            {**params, "id": row_id, "sender": sender},
        )
        return cur.rowcount == 1


def mark_sent(db: Database, row_id: int, sender: str, now: datetime) -> bool:
    """Record a delivery; False if the claim was lost (lease ran out) meanwhile."""
    return _finish(
        db,
        row_id,
        sender,
        "status = 'sent', sent_at = :now, last_error = NULL",
        {"now": to_epoch(now)},
    )


def mark_retry(db: Database, row_id: int, sender: str, next_at: datetime, error: str) -> bool:
    """Put a row back for another attempt at ``next_at``."""
    return _finish(
        db,
        row_id,
        sender,
        "status = 'pending', next_attempt_at = :next, last_error = :error",
        {"next": to_epoch(next_at), "error": error},
    )


def defer_receiver(db: Database, receiver: str, until: datetime) -> int:
    """Hold back a rate-limited receiver's pending rows until ``until``; how many."""
    with db.transaction():
        cur = db.execute(
            "UPDATE notifications SET next_attempt_at = :until WHERE receiver = :receiver "
            "AND status = 'pending' AND next_attempt_at < :until",
            {"until": to_epoch(until), "receiver": receiver},
        )
    return int(cur.rowcount)


def mark_failed(db: Database, row_id: int, sender: str, error: str) -> bool:
    """Give up on a row: a permanent error, or the retry budget is spent."""
    return _finish(db, row_id, sender, "status = 'failed', last_error = :error", {"error": error})


def list_rows(
    db: Database, status: NotificationStatus | None = None, limit: int = 100
) -> list[OutboxRow]:
    """Stored notifications, newest first."""
    where = "WHERE status = :status" if status else ""
    rows = db.rows(
        f"SELECT * FROM notifications {where} ORDER BY id DESC LIMIT :limit",
        {"status": status.value if status else None, "limit": limit},
    )
    return [OutboxRow.from_row(r) for r in rows]
