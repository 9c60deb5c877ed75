"""Alert groups' rows: what each group notified, when it flushes, its first message."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from runner.store.store import Store


def group_rows(store: Store) -> list[dict[str, Any]]:
    """Every ``alert_groups`` row."""
    return store._db.rows("SELECT * FROM alert_groups")


def save_group_rows(store: Store, rows: Sequence[dict[str, Any]]) -> None:
    """Insert or update groups, keyed ``key``, ``route``, ``receiver``, ``labels``,
    ``notified``, ``episode``, ``next``, ``last`` and ``now`` (leaving ``delivery_ref``)."""
    store._db.executemany(
        "INSERT INTO alert_groups (key, route, receiver, labels, notified, episode, "
        "next_flush_at, last_flush_at, updated_at) VALUES (:key, :route, :receiver, :labels, "
        ":notified, :episode, :next, :last, :now) ON CONFLICT (key) DO UPDATE SET "
        "notified = excluded.notified, episode = excluded.episode, next_flush_at = "
        "excluded.next_flush_at, last_flush_at = excluded.last_flush_at, updated_at = "
        "excluded.updated_at",
        rows,
    )


def next_flush_at(store: Store) -> float | None:
    """The earliest scheduled group flush (epoch seconds), if any."""
    due = store._db.scalar("SELECT MIN(next_flush_at) FROM alert_groups")
    return None if due is None else float(due)


def delivery_ref(store: Store, group_key: str) -> str | None:
    """The group's ``delivery_ref`` (JSON), if any."""
    text = store._db.scalar(
        "SELECT delivery_ref FROM alert_groups WHERE key = :key", {"key": group_key}
    )
    return str(text) if text else None


def set_delivery_ref(store: Store, group_key: str, ref: str) -> None:
    """Set the group's ``delivery_ref`` (JSON)."""
    with store._db.transaction():
        store._db.execute(
            "UPDATE alert_groups SET delivery_ref = :ref WHERE key = :key",
            {"ref": ref, "key": group_key},
        )
