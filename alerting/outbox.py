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
from typing import TYPE_CHECKING, Any

from alerting.notification import Notification
from runner.store import notifications as rows
from runner.store.notifications import NotificationStatus
from runner.store.records import from_epoch, to_epoch

if TYPE_CHECKING:
    from runner.store.store import Store


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


def claimant_process(claimed_by: str) -> str:
    """The process identity in a claim (``host:pid:start``), without the sender suffix."""
    return claimed_by.split("/", 1)[0]


def release_stale(
    store: Store,
    now: datetime,
    *,
    alive: Callable[[str], bool],
    idempotent: Callable[[str, Notification], bool],
) -> tuple[int, int]:
    """Take over the rows whose sender died (``alive`` is False for its process) or whose
    lease ran out: back to pending where the receiver is ``idempotent``, else recorded
    ``possibly_delivered``. Returns (resent, possibly delivered)."""
    resent = possibly = 0
    for row in rows.in_flight(store):
        claimant = row["claimed_by"] or ""
        expired = row["claim_expires_at"] is not None and float(row["claim_expires_at"]) < (
            to_epoch(now)
        )
        if not expired and alive(claimant_process(claimant)):
            continue
        note = replace(Notification.from_json(row["payload"]), redelivery=True)
        again = idempotent(row["receiver"], note)
        why = "lease ran out" if expired else "sender died"
        error = f"{why} during the send by {claimant}; " + (
            "sent again with the receiver's idempotency key" if again else "not sent again"
        )
        payload = note.to_json() if again else None
        if rows.take_over(store, row["id"], claimant, now, error=error, payload=payload):
            resent += again
            possibly += not again
    return resent, possibly


def enqueue(
    store: Store,
    notification: Notification,
    now: datetime,
    *,
    receiver: str | None = None,
    group_key: str | None = None,
    fallback_of: int | None = None,
) -> int:
    """Store a notification for delivery as soon as possible; its id."""
    return rows.insert_notification(
        store,
        receiver or notification.receiver,
        group_key or notification.group_key,
        notification.to_json(),
        now,
        fallback_of=fallback_of,
    )


def enqueue_many(store: Store, notifications: Sequence[Notification], now: datetime) -> None:
    """Store notifications for delivery as soon as possible, in one batch.

    For the engine, inside its transaction: one statement for the lot, where
    ``enqueue`` would cost a savepoint and an INSERT … RETURNING each. A row's
    ``created_at`` is the notification's own time (its group's due time).
    """
    rows.insert_notifications(
        store, [(n.receiver, n.group_key, n.to_json(), n.created_at) for n in notifications], now
    )


def claim(
    store: Store, row_id: int, sender: str, now: datetime, lease_seconds: float
) -> OutboxRow | None:
    """Take a row for sending (counting one attempt); None when another sender has it."""
    row = rows.claim(store, row_id, sender, now, lease_seconds)
    return None if row is None else OutboxRow.from_row(row)


def list_rows(
    store: Store, status: NotificationStatus | None = None, limit: int = 100
) -> list[OutboxRow]:
    """Stored notifications, newest first."""
    return [OutboxRow.from_row(r) for r in rows.notification_rows(store, status, limit)]
