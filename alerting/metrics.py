"""Counts for the metrics endpoint: ``runwatch_notifications_total{receiver,status}`` and
``runwatch_alerts_firing{severity}``, read from the store (the metrics package builds the
Prometheus families from them at scrape time)."""

from __future__ import annotations

from alerting.rules import Severity
from runner.store.alerts import firing_by_severity
from runner.store.database import Database
from runner.store.notifications import counts_by_receiver


def notification_counts(db: Database) -> dict[tuple[str, str], int]:
    """Notifications by (receiver, status): sent, failed, pending or sending.

    Rows are never deleted, so the sent and failed counts only grow (counter semantics).
    """
    return counts_by_receiver(db)


def firing_alert_counts(db: Database) -> dict[str, int]:
    """Firing alerts by severity (every severity present, 0 when none fire)."""
    return {s.value: 0 for s in Severity} | firing_by_severity(db)
