"""Consumer cursors: how far an event-log consumer (the alert engine) has read."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from runner.store.records import to_epoch

if TYPE_CHECKING:
    from runner.store.store import Store


def lock_cursor(store: Store, name: str, now: datetime) -> int:
    """Create the cursor if needed and hold it (until the transaction ends); its event id.

    Must run inside a transaction. SQLite's BEGIN IMMEDIATE already excludes other
    writers; PostgreSQL locks the row.
    """
    assert store._db.in_transaction
    store._db.execute(
        "INSERT INTO consumer_cursors (name, event_id, updated_at) VALUES (:name, 0, :now) "
        "ON CONFLICT (name) DO NOTHING",
        {"name": name, "now": to_epoch(now)},
    )
    lock = "" if store._db.is_sqlite else " FOR UPDATE"
    return int(
        store._db.scalar(
            f"SELECT event_id FROM consumer_cursors WHERE name = :name{lock}", {"name": name}
        )
    )


def read_cursor(store: Store, name: str) -> int:
    """The last event id the consumer has handled (0 before the first)."""
    value = store._db.scalar(
        "SELECT event_id FROM consumer_cursors WHERE name = :name", {"name": name}
    )
    return 0 if value is None else int(value)


def advance_cursor(store: Store, name: str, event_id: int, now: datetime) -> None:
    """Record that every event up to ``event_id`` has been handled."""
    store._db.execute(
        "UPDATE consumer_cursors SET event_id = :id, updated_at = :now WHERE name = :name",
        {"id": event_id, "now": to_epoch(now), "name": name},
    )
