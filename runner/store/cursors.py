"""Consumer cursors: how far an event-log consumer (the alert engine) has read."""

from __future__ import annotations

from datetime import datetime

from runner.store.database import Database
from runner.store.records import to_epoch


def lock_cursor(db: Database, name: str, now: datetime) -> int:
    """Create the cursor if needed and hold it (until the transaction ends); its event id.

    Must run inside a transaction. SQLite's BEGIN IMMEDIATE already excludes other
    writers; PostgreSQL locks the row.
    """
    assert db.in_transaction
    db.execute(
        "INSERT INTO consumer_cursors (name, event_id, updated_at) VALUES (:name, 0, :now) "
        "ON CONFLICT (name) DO NOTHING",
        {"name": name, "now": to_epoch(now)},
    )
    lock = "" if db.is_sqlite else " FOR UPDATE"
    return int(
        db.scalar(f"SELECT event_id FROM consumer_cursors WHERE name = :name{lock}", {"name": name})
    )


def read_cursor(db: Database, name: str) -> int:
    """The last event id the consumer has handled (0 before the first)."""
    value = db.scalar("SELECT event_id FROM consumer_cursors WHERE name = :name", {"name": name})
    return 0 if value is None else int(value)


def advance_cursor(db: Database, name: str, event_id: int, now: datetime) -> None:
    """Record that every event up to ``event_id`` has been handled."""
    db.execute(
        "UPDATE consumer_cursors SET event_id = :id, updated_at = :now WHERE name = :name",
        {"id": event_id, "now": to_epoch(now), "name": name},
    )


def start_cursor(db: Database, name: str, event_id: int, now: datetime) -> None:
    """Create the cursor at ``event_id`` unless it exists (a consumer that starts from
    now, not from the first event ever stored)."""
    with db.transaction():
        db.execute(
            "INSERT INTO consumer_cursors (name, event_id, updated_at) VALUES (:name, :id, :now) "
            "ON CONFLICT (name) DO NOTHING",
            {"name": name, "id": event_id, "now": to_epoch(now)},
        )
