"""The alert engine's durable state in the store: its cursor, job facts, alerts and groups.

All of it is read and written inside the engine's transaction, which holds the cursor
row; so engines in several processes (``serve`` and a ``run``) take turns, and an event
is turned into alerts and notifications exactly once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from alerting.alerts import Alert, AlertState
from alerting.groups import AlertGroup
from alerting.job_facts import JobFacts
from runner.store.database import Database
from runner.store.records import to_epoch
from runner.store.spine_sql import to_json

CURSOR = "alerting"
"""The name of the alert engine's cursor in ``consumer_cursors``."""


def lock_cursor(db: Database, now: datetime, name: str = CURSOR) -> int:
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


def read_cursor(db: Database, name: str = CURSOR) -> int:
    """The last event id the consumer has handled (0 before the first)."""
    value = db.scalar("SELECT event_id FROM consumer_cursors WHERE name = :name", {"name": name})
    return 0 if value is None else int(value)


def advance_cursor(db: Database, event_id: int, now: datetime, name: str = CURSOR) -> None:
    """Record that every event up to ``event_id`` has been handled."""
    db.execute(
        "UPDATE consumer_cursors SET event_id = :id, updated_at = :now WHERE name = :name",
        {"id": event_id, "now": to_epoch(now), "name": name},
    )


def load_facts(db: Database) -> dict[str, JobFacts]:
    """Every job's facts."""
    return {
        r["job"]: JobFacts.from_json(r["facts"])
        for r in db.rows("SELECT job, facts FROM alert_job_facts")
    }


def save_facts(
    db: Database, facts: Mapping[str, JobFacts], jobs: Iterable[str], now: datetime
) -> None:
    """Write the facts of ``jobs``."""
    db.executemany(
        "INSERT INTO alert_job_facts (job, facts, updated_at) VALUES (:job, :facts, :now) "
        "ON CONFLICT (job) DO UPDATE SET facts = excluded.facts, updated_at = excluded.updated_at",
        [{"job": j, "facts": facts[j].to_json(), "now": to_epoch(now)} for j in sorted(jobs)],
    )


def _alert(row: Mapping[str, Any]) -> Alert:
    return Alert(
        fingerprint=row["fingerprint"],
        alertname=row["alertname"],
        severity=row["severity"],
        job=row["job"],
        state=AlertState(row["state"]),
        labels=json.loads(row["labels"]),
        annotations=json.loads(row["annotations"]),
        details=json.loads(row["details"]),
        starts_at=float(row["starts_at"]),
        ends_at=None if row["ends_at"] is None else float(row["ends_at"]),
        updated_at=float(row["updated_at"]),
        flapping=bool(row["flapping"]),
        firings=json.loads(row["firings"]),
    )


def load_alerts(db: Database, state: AlertState | None = None) -> list[Alert]:
    """Stored alerts (optionally in one state), newest change first."""
    where = "WHERE state = :state" if state else ""
    rows = db.rows(
        f"SELECT * FROM alerts {where} ORDER BY updated_at DESC, fingerprint",
        {"state": state.value if state else None},
    )
    return [_alert(r) for r in rows]


def save_alerts(db: Database, alerts: Iterable[Alert]) -> None:
    """Write alerts that changed (and mark them clean)."""
    rows = []
    for a in alerts:
        if not a.dirty:
            continue
        rows.append(
            {
                "fp": a.fingerprint,
                "name": a.alertname,
                "severity": a.severity,
                "job": a.job,
                "state": a.state.value,
                "labels": to_json(a.labels),
                "annotations": to_json(a.annotations),
                "details": to_json(a.details),
                "starts": a.starts_at,
                "ends": a.ends_at,
                "updated": a.updated_at,
                "flapping": int(a.flapping),
                "firings": to_json(a.firings),
            }
        )
        a.dirty = False
    db.executemany(
        "INSERT INTO alerts (fingerprint, alertname, severity, job, state, labels, annotations, "
        "details, starts_at, ends_at, updated_at, flapping, firings) VALUES (:fp, :name, "
        ":severity, :job, :state, :labels, :annotations, :details, :starts, :ends, :updated, "
        ":flapping, :firings) ON CONFLICT (fingerprint) DO UPDATE SET state = excluded.state, "
        "labels = excluded.labels, annotations = excluded.annotations, details = "
        "excluded.details, starts_at = excluded.starts_at, ends_at = excluded.ends_at, "
        "updated_at = excluded.updated_at, flapping = excluded.flapping, firings = "
        "excluded.firings",
        rows,
    )


def load_groups(db: Database) -> list[AlertGroup]:
    """Every alert group."""
    return [
        AlertGroup(
            key=r["key"],
            route=r["route"],
            receiver=r["receiver"],
            labels=json.loads(r["labels"]),
            notified=json.loads(r["notified"]),
            episode=int(r["episode"]),
            next_flush_at=r["next_flush_at"],
            last_flush_at=r["last_flush_at"],
        )
        for r in db.rows("SELECT * FROM alert_groups")
    ]


def save_groups(db: Database, groups: Iterable[AlertGroup], now: datetime) -> None:
    """Write groups that changed (leaving the sender's ``delivery_ref`` alone)."""
    rows = []
    for g in groups:
        if not g.dirty:
            continue
        rows.append(
            {
                "key": g.key,
                "route": g.route,
                "receiver": g.receiver,
                "labels": to_json(g.labels),
                "notified": to_json(g.notified),
                "episode": g.episode,
                "next": g.next_flush_at,
                "last": g.last_flush_at,
                "now": to_epoch(now),
            }
        )
        g.dirty = False
    db.executemany(
        "INSERT INTO alert_groups (key, route, receiver, labels, notified, episode, "
        "next_flush_at, last_flush_at, updated_at) VALUES (:key, :route, :receiver, :labels, "
        ":notified, :episode, :next, :last, :now) ON CONFLICT (key) DO UPDATE SET "
        "notified = excluded.notified, episode = excluded.episode, next_flush_at = "
        "excluded.next_flush_at, last_flush_at = excluded.last_flush_at, updated_at = "
        "excluded.updated_at",
        rows,
    )


def next_due(db: Database) -> float | None:
    """The earliest scheduled group flush (epoch seconds), if any."""
    due = db.scalar("SELECT MIN(next_flush_at) FROM alert_groups")
    return None if due is None else float(due)


def group_thread(db: Database, group_key: str, episode: int) -> dict[str, str] | None:
    """The reference of the first message sent for this group episode (Slack ts), if any."""
    text = db.scalar("SELECT delivery_ref FROM alert_groups WHERE key = :key", {"key": group_key})
    if not text:
        return None
    ref = json.loads(text)
    if ref.get("episode") != episode:
        return None
    return {k: str(v) for k, v in ref.items() if k != "episode"}


def set_group_thread(db: Database, group_key: str, episode: int, thread: Mapping[str, str]) -> None:
    """Remember the first message of a group episode, for in-place updates."""
    with db.transaction():
        db.execute(
            "UPDATE alert_groups SET delivery_ref = :ref WHERE key = :key",
            {"ref": to_json({**thread, "episode": episode}), "key": group_key},
        )
