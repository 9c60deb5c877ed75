"""Heartbeats of long-running processes, and the processes that supervise runs."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from runner.store.records import from_epoch
from runner.store.store import Store

__all__ = ["Heartbeat", "heartbeats", "run_supervisors"]


@dataclass(frozen=True)
class Heartbeat:
    """The last sign of life of a long-running process."""

    identity: str
    at: datetime
    stopped: bool


def heartbeats(store: Store, prefix: str) -> dict[str, Heartbeat]:
    """The heartbeats named ``prefix:<identity>``, by identity."""
    rows = store._db.rows(
        "SELECT name, at, info FROM heartbeats WHERE name LIKE :pattern",
        {"pattern": prefix + ":%"},
    )
    found = {}
    for row in rows:
        identity = row["name"][len(prefix) + 1 :]
        info = json.loads(row["info"] or "{}")
        found[identity] = Heartbeat(identity, from_epoch(row["at"]), info.get("state") == "stopped")
    return found


def run_supervisors(store: Store) -> set[str]:
    """The processes that supervise running runs or have claimed queued ones."""
    rows = store._db.rows(
        "SELECT DISTINCT supervisor FROM runs WHERE supervisor IS NOT NULL "
        "AND state IN ('queued', 'running')"
    )
    return {row["supervisor"] for row in rows}
