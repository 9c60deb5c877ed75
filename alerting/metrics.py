"""Counts for the metrics endpoint: ``runwatch_notifications_total{receiver,status}`` and
``runwatch_alerts_firing{severity}``, as plain queries (the metrics package builds the
Prometheus families from them at scrape time)."""

from __future__ import annotations

from alerting.rules import Severity
from runner.store.database import Database


def notification_counts(db: Database) -> dict[tuple[str, str], int]:
    """Notifications by (receiver, status): sent, failed, pending or sending.

    Rows are never deleted, so the sent and failed counts only grow (counter semantics).
    """
    rows = db.rows(
        "SELECT receiver, status, COUNT(*) AS n FROM notifications GROUP BY receiver, status"
    )
    return {(r["receiver"], r["status"]): int(r["n"]) for r in rows}


def firing_alert_counts(db: Database) -> dict[str, int]:
    """Firing alerts by severity (every severity present, 0 when none fire)."""
    counts = {s.value: 0 for s in Severity}
    rows = db.rows(
        "SELECT severity, COUNT(*) AS n FROM alerts WHERE state = 'firing' GROUP BY severity"
    )
    for row in rows:
        counts[row["severity"]] = int(row["n"])
    return counts
