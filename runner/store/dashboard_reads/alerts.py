"""Alerts with the notifications sent about them, and the active silences."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime

from sqlalchemy import Connection, RowMapping, and_, func, literal, select

from runner.store.alerts import AlertState
from runner.store.dashboard_reads.results import AlertRow, AlertsView, NotificationRow, SilenceRow
from runner.store.dashboard_reads.sql import as_time, has_alerting, scrub_text
from runner.store.notifications import NotificationStatus
from runner.store.records import from_epoch, to_epoch
from runner.store.schema import alerts, notifications, silences

RESOLVED_SHOWN = 100
NOTIFICATIONS_PER_ALERT = 10


def alerts_view(conn: Connection, now: datetime, resolved_since: datetime) -> AlertsView:
    """Firing alerts, alerts resolved since ``resolved_since``, active silences."""
    if not has_alerting(conn):
        return AlertsView(firing=(), resolved=(), silences=())
    firing = conn.execute(
        select(alerts)
        .where(alerts.c.state == AlertState.FIRING.value)
        .order_by(alerts.c.starts_at.desc())
    ).mappings()
    resolved = conn.execute(
        select(alerts)
        .where(
            alerts.c.state == AlertState.RESOLVED.value,
            alerts.c.ends_at >= to_epoch(resolved_since),
        )
        .order_by(alerts.c.ends_at.desc())
        .limit(RESOLVED_SHOWN)
    ).mappings()
    firing_rows, resolved_rows = list(firing), list(resolved)
    sent = _notifications(conn, [r["fingerprint"] for r in firing_rows + resolved_rows])
    epoch = to_epoch(now)
    active = conn.execute(
        select(silences)
        .where(silences.c.starts_at <= epoch, silences.c.ends_at > epoch)
        .order_by(silences.c.ends_at)
    ).mappings()
    return AlertsView(
        firing=tuple(_alert_row(r, sent) for r in firing_rows),
        resolved=tuple(_alert_row(r, sent) for r in resolved_rows),
        silences=tuple(
            SilenceRow(
                id=int(s["id"]),
                matchers=tuple(json.loads(s["matchers"])),
                starts_at=from_epoch(float(s["starts_at"])),
                ends_at=from_epoch(float(s["ends_at"])),
                author=s["author"],
                comment=s["comment"],
            )
            for s in active
        ),
    )


def _notifications(
    conn: Connection, fingerprints: Sequence[str]
) -> dict[str, list[NotificationRow]]:
    """The newest notifications whose payload names each alert (payloads are JSON with
    sorted keys and no spaces, so ``"fingerprint":"…"`` appears verbatim)."""
    if not fingerprints:
        return {}
    pattern = literal('%"fingerprint":"') + alerts.c.fingerprint + literal('"%')
    ranked = (
        select(
            alerts.c.fingerprint,
            notifications.c.id,
            notifications.c.receiver,
            notifications.c.status,
            notifications.c.attempts,
            notifications.c.created_at,
            notifications.c.sent_at,
            notifications.c.last_error,
            func.row_number()
            .over(partition_by=alerts.c.fingerprint, order_by=notifications.c.id.desc())
            .label("rank"),
        )
        .select_from(alerts)
        .join(
            notifications,
            and_(
                notifications.c.created_at >= alerts.c.starts_at,
                notifications.c.payload.like(pattern),
            ),
        )
        .where(alerts.c.fingerprint.in_(fingerprints))
        .subquery()
    )
    found: dict[str, list[NotificationRow]] = {}
    query = select(ranked).where(ranked.c.rank <= NOTIFICATIONS_PER_ALERT)
    for r in conn.execute(query.order_by(ranked.c.id.desc())).mappings():
        found.setdefault(r["fingerprint"], []).append(
            NotificationRow(
                id=int(r["id"]),
                fingerprint=r["fingerprint"],
                receiver=r["receiver"],
                status=NotificationStatus(r["status"]),
                attempts=int(r["attempts"]),
                created_at=from_epoch(float(r["created_at"])),
                sent_at=as_time(r["sent_at"]),
                last_error=scrub_text(r["last_error"]),
            )
        )
    return found


def _alert_row(row: RowMapping, sent: Mapping[str, list[NotificationRow]]) -> AlertRow:
    annotations = json.loads(row["annotations"] or "{}")
    return AlertRow(
        fingerprint=row["fingerprint"],
        alertname=row["alertname"],
        severity=row["severity"],
        job=row["job"],
        state=AlertState(row["state"]),
        labels=json.loads(row["labels"] or "{}"),
        summary=annotations.get("summary") or annotations.get("description"),
        starts_at=from_epoch(float(row["starts_at"])),
        ends_at=as_time(row["ends_at"]),
        flapping=bool(row["flapping"]),
        notifications=tuple(sent.get(row["fingerprint"], ())),
    )
