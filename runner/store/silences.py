"""Silences' rows: matcher sets (JSON) with the time they apply."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from runner.errors import NotFoundError
from runner.store.records import to_epoch

if TYPE_CHECKING:
    from runner.store.store import Store


def insert_silence(
    store: Store,
    matchers: str,
    starts_at: datetime,
    ends_at: datetime,
    *,
    author: str,
    comment: str,
) -> int:
    """Store a silence (``matchers`` as JSON, created at ``starts_at``); its id."""
    with store._db.transaction():
        silence_id = store._db.scalar(
            "INSERT INTO silences (matchers, starts_at, ends_at, author, comment, created_at) "
            "VALUES (:m, :s, :e, :a, :c, :s) RETURNING id",
            {
                "m": matchers,
                "s": to_epoch(starts_at),
                "e": to_epoch(ends_at),
                "a": author,
                "c": comment,
            },
        )
    return int(silence_id)


def silence_rows(store: Store, *, active_at: datetime | None = None) -> list[dict[str, Any]]:
    """Stored silences, newest first; with ``active_at``, only those active then."""
    where, params = "", {}
    if active_at is not None:
        where = "WHERE starts_at <= :now AND ends_at > :now"
        params = {"now": to_epoch(active_at)}
    return store._db.rows(f"SELECT * FROM silences {where} ORDER BY id DESC", params)


def expire_silence(store: Store, silence_id: int, now: datetime) -> None:
    """End a silence now; NotFoundError if there is no such silence."""
    with store._db.transaction():
        exists = store._db.scalar("SELECT 1 FROM silences WHERE id = :id", {"id": silence_id})
        if exists is None:
            raise NotFoundError(f"no silence with id {silence_id}")
        store._db.execute(
            "UPDATE silences SET ends_at = :now WHERE id = :id AND ends_at > :now",
            {"id": silence_id, "now": to_epoch(now)},
        )
