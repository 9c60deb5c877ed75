"""The alert engine's durable state in the store: job facts, alerts and groups, as the
alerting types (the rows and their SQL are runner.store.alerts and .alert_groups).

All of it is read and written inside the engine's transaction, which holds the cursor
row (runner.store.cursors, named ``CURSOR``); so engines in several processes (``serve``
and a ``run``) take turns, and an event is turned into alerts and notifications exactly
once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from alerting.alerts import Alert
from alerting.groups import AlertGroup
from alerting.job_facts import JobFacts
from runner.store import alert_groups
from runner.store import alerts as alert_rows
from runner.store.alerts import AlertState
from runner.store.records import to_epoch
from runner.store.spine_sql import to_json

if TYPE_CHECKING:
    from runner.store.store import Store

CURSOR = "alerting"
"""The name of the alert engine's cursor in ``consumer_cursors``."""


def load_facts(store: Store) -> dict[str, JobFacts]:
    """Every job's facts."""
    return {r["job"]: JobFacts.from_json(r["facts"]) for r in alert_rows.job_facts_rows(store)}


def save_facts(
    store: Store, facts: Mapping[str, JobFacts], jobs: Iterable[str], now: datetime
) -> None:
    """Write the facts of ``jobs``."""
    alert_rows.save_job_facts(store, [(j, facts[j].to_json()) for j in sorted(jobs)], now)


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


def load_alerts(store: Store, state: AlertState | None = None) -> list[Alert]:
    """Stored alerts (optionally in one state), newest change first."""
    return [_alert(r) for r in alert_rows.alert_rows(store, state)]


def save_alerts(store: Store, alerts: Iterable[Alert]) -> None:
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
    alert_rows.save_alert_rows(store, rows)


def load_groups(store: Store) -> list[AlertGroup]:
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
        for r in alert_groups.group_rows(store)
    ]


def save_groups(store: Store, groups: Iterable[AlertGroup], now: datetime) -> None:
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
    alert_groups.save_group_rows(store, rows)


def group_thread(store: Store, group_key: str, episode: int) -> dict[str, str] | None:
    """The reference of the first message sent for this group episode (Slack ts), if any."""
    text = alert_groups.delivery_ref(store, group_key)
    if text is None:
        return None
    ref = json.loads(text)
    if ref.get("episode") != episode:
        return None
    return {k: str(v) for k, v in ref.items() if k != "episode"}


def set_group_thread(store: Store, group_key: str, episode: int, thread: Mapping[str, str]) -> None:
    """Remember the first message of a group episode, for in-place updates."""
    alert_groups.set_delivery_ref(store, group_key, to_json({**thread, "episode": episode}))
