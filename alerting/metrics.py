"""Counts for the metrics endpoint: ``runwatch_notifications_total{receiver,status}`` and
``runwatch_alerts_firing{severity}``, read from the store (the metrics package builds the
Prometheus families from them at scrape time)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from alerting.rules import Severity
from runner.store.alerts import firing_by_severity
from runner.store.notifications import counts_by_receiver

if TYPE_CHECKING:
    from runner.store.store import Store


def notification_counts(store: Store) -> dict[tuple[str, str], int]:
    """Notifications by (receiver, status): sent, failed, pending or sending.

    Rows are never deleted, so the sent and failed counts only grow (counter semantics).
    """
    return counts_by_receiver(store)


def firing_alert_counts(store: Store) -> dict[str, int]:
    """Firing alerts by severity (every severity present, 0 when none fire)."""
    return {s.value: 0 for s in Severity} | firing_by_severity(store)
