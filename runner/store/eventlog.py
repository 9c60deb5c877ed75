"""The event log and the write discipline every table of the store shares.

Every state change is one transaction that updates its row and appends its event, so
the event log and the tables never disagree. State changes are conditional UPDATEs
(``… WHERE state = 'running'``): when two processes race for the same change, one
wins, and only the winner appends the event.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Self

from runner.events import (
    Event,
    event_from_row,
)
from runner.store.database import Database
from runner.store.records import (
    from_epoch,
    to_epoch,
)

logger = logging.getLogger(__name__)


def to_json(value: Any) -> str:
    """Compact, stable JSON for the store's text columns."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True, default=str)


class EventLog:
    """A connection, its transactions, and the append-only event log."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group writes into one commit; a nested block that fails undoes only its writes."""
        with self.db.transaction():
            yield

    @contextmanager
    def _recording(self) -> Iterator[None]:
        """A write transaction that appends events: it takes the event lock before any
        row lock, so all writers lock in one order."""
        with self.db.transaction():
            self.db.serialize_event_writes()
            yield

    # -- events -------------------------------------------------------------------

    def append(self, event: Event) -> int:
        """Append an event to the log and return its id."""
        with self._recording():
            return self._insert_event(event)

    def _insert_event(self, event: Event) -> int:
        event_id = self.db.scalar(
            "INSERT INTO events (at, type, job, run_id, task, attempt, payload) "
            "VALUES (:at, :type, :job, :run_id, :task, :attempt, :payload) RETURNING id",
            {
                "at": to_epoch(event.at),
                "type": event.type,
                "job": event.job,
                "run_id": event.run_id,
                "task": event.task,
                "attempt": event.attempt,
                "payload": to_json(event.payload()),
            },
        )
        return int(event_id)

    def events_after(
        self, after_id: int, *, limit: int = 1000, job: str | None = None
    ) -> list[Event]:
        """Events with id greater than ``after_id``, oldest first."""
        where = "id > :after" + (" AND job = :job" if job is not None else "")
        rows = self.db.rows(
            f"SELECT * FROM events WHERE {where} ORDER BY id LIMIT :limit",
            {"after": after_id, "limit": limit, "job": job},
        )
        return [
            event_from_row(
                id=int(r["id"]),
                type=r["type"],
                at=from_epoch(float(r["at"])),
                job=r["job"],
                run_id=r["run_id"],
                task=r["task"],
                attempt=r["attempt"],
                payload=json.loads(r["payload"]),
            )
            for r in rows
        ]

    def last_event_id(self) -> int:
        """The newest event id, 0 when the log is empty."""
        return int(self.db.scalar("SELECT COALESCE(MAX(id), 0) FROM events"))
