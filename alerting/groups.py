"""Alert groups: batching alerts per route and group labels, and deciding when to notify.

Alertmanager's timing: a new group waits ``group_wait`` before its first notification;
later changes are sent no sooner than ``group_interval`` after the previous one; while
alerts keep firing unchanged, the receiver hears again only after ``repeat_interval``.
Each group remembers what its receiver was last told (``notified``), so notifications
go out on *changes* only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from alerting.alerts import Alert
from alerting.notification import Notification, NotifiedAlert, NotifiedStatus
from alerting.routing import Route
from runner.store.records import from_epoch

Muted = Callable[[Alert], bool]
"""True for an alert that is silenced or inhibited right now."""
Prepare = Callable[[Alert], None]
"""Completes an alert's details just before it is put in a notification."""


@dataclass
class AlertGroup:
    """The alerts of one route and receiver with equal group labels (mutable state)."""

    key: str
    route: str
    receiver: str
    labels: dict[str, str]
    notified: dict[str, str] = field(default_factory=dict)
    episode: int = 0
    next_flush_at: float | None = None
    last_flush_at: float | None = None
    dirty: bool = field(default=False, compare=False)

    @property
    def idle(self) -> bool:
        """True when the receiver knows of no alert here and nothing waits to be sent."""
        return not self.notified and self.next_flush_at is None


class GroupBook:
    """Every alert group, keyed by group key."""

    def __init__(self, root: Route, groups: Iterable[AlertGroup] = ()) -> None:
        self.root = root
        self.routes = {r.id: r for r in root.walk()}
        self.groups = {g.key: g for g in groups}

    def touch(self, alert: Alert, now: datetime) -> None:
        """Schedule a flush of every group ``alert`` belongs to, after its state changed."""
        epoch = now.timestamp()
        for route in self.root.match(alert.labels):
            key = route.group_key(alert.labels)
            group = self.groups.get(key)
            if group is None:
                group = AlertGroup(key, route.id, route.receiver, route.group_labels(alert.labels))
                self.groups[key] = group
            if group.idle:
                group.episode += 1
                group.next_flush_at = epoch + route.group_wait_seconds
            elif group.next_flush_at is None:
                earliest = (group.last_flush_at or epoch) + route.group_interval_seconds
                group.next_flush_at = max(epoch, earliest)
            group.dirty = True

    def next_due(self) -> float | None:
        """The earliest scheduled flush (epoch seconds), if any."""
        times = [g.next_flush_at for g in self.groups.values() if g.next_flush_at is not None]
        return min(times) if times else None

    def flush(
        self,
        now: datetime,
        alerts: Iterable[Alert],
        muted: Muted,
        *,
        force: bool = False,
        prepare: Prepare | None = None,
    ) -> list[Notification]:
        """Notifications for the groups due at ``now`` (``force``: every pending group)."""
        epoch = now.timestamp()
        due = [g for g in self.groups.values() if self._due(g, epoch, force)]
        if not due:
            return []
        members: dict[str, list[Alert]] = defaultdict(list)
        wanted = {g.key for g in due}
        for alert in alerts:
            if not alert.firing and not any(alert.fingerprint in g.notified for g in due):
                continue
            for route in self.root.match(alert.labels):
                key = route.group_key(alert.labels)
                if key in wanted:
                    members[key].append(alert)
        found = []
        for group in due:
            notification = self._flush_group(group, members[group.key], now, muted, prepare)
            if notification is not None:
                found.append(notification)
        return found

    def _due(self, group: AlertGroup, epoch: float, force: bool) -> bool:
        if group.next_flush_at is not None and (force or group.next_flush_at <= epoch):
            return True
        route = self.routes.get(group.route)
        if route is None or group.last_flush_at is None:
            return False
        repeat_at = group.last_flush_at + route.repeat_interval_seconds
        return repeat_at <= epoch and any(
            s != NotifiedStatus.RESOLVED for s in group.notified.values()
        )

    def _flush_group(
        self,
        group: AlertGroup,
        members: list[Alert],
        now: datetime,
        muted: Muted,
        prepare: Prepare | None,
    ) -> Notification | None:
        included: list[NotifiedAlert] = []
        changed = held = False
        for alert in sorted(members, key=lambda a: (a.starts_at, a.fingerprint)):
            status = _status(alert)
            before = group.notified.get(alert.fingerprint)
            if status is NotifiedStatus.RESOLVED:
                if before is not None:
                    included.append(_notified(alert, status, changed=True))
                    del group.notified[alert.fingerprint]
                    changed = True
            elif muted(alert):
                held = held or before != status
            else:
                is_change = before != status
                if prepare is not None:
                    prepare(alert)
                included.append(_notified(alert, status, changed=is_change))
                group.notified[alert.fingerprint] = status.value
                changed = changed or is_change
        live = {a.fingerprint for a in members}
        for gone in [fp for fp in group.notified if fp not in live]:
            del group.notified[gone]
        route = self.routes.get(group.route)
        repeat_due = (
            route is not None
            and group.last_flush_at is not None
            and group.last_flush_at + route.repeat_interval_seconds <= now.timestamp()
        )
        repeat = (
            not changed
            and repeat_due
            and any(a.status is not NotifiedStatus.RESOLVED for a in included)
        )
        group.last_flush_at = now.timestamp()
        group.next_flush_at = None
        if held and route is not None:
            # Look again when a silence or inhibition may have ended, as Alertmanager
            # re-evaluates every group each group_interval.
            group.next_flush_at = now.timestamp() + max(route.group_interval_seconds, 1.0)
        group.dirty = True
        if not changed and not repeat:
            return None
        return Notification(
            receiver=group.receiver,
            group_key=group.key,
            group_labels=group.labels,
            alerts=tuple(included),
            created_at=now,
            episode=group.episode,
            repeat=repeat,
        )


def _status(alert: Alert) -> NotifiedStatus:
    if alert.flapping:
        return NotifiedStatus.FLAPPING
    return NotifiedStatus.FIRING if alert.firing else NotifiedStatus.RESOLVED


def _notified(alert: Alert, status: NotifiedStatus, *, changed: bool) -> NotifiedAlert:
    return NotifiedAlert(
        fingerprint=alert.fingerprint,
        status=status,
        labels=dict(alert.labels),
        annotations=dict(alert.annotations),
        starts_at=from_epoch(alert.starts_at),
        ends_at=from_epoch(alert.ends_at),
        details=dict(alert.details),
        changed=changed,
    )
