"""Alert groups: batching alerts per route and group labels, and deciding when to notify.

Alertmanager's timing: a new group waits ``group_wait`` before its first notification;
later changes are sent no sooner than ``group_interval`` after the previous one; while
alerts keep firing unchanged, the receiver hears again only after ``repeat_interval``.
Each group remembers what its receiver was last told (``notified``), so notifications
go out on *changes* only.

Timers run on the times of the facts, not on when the engine happens to look: a group is
scheduled from the moment its alert changed, and a notification is made *at its due
time* and stamped with it. So any process that evaluates later (``serve`` a moment
after, the next ``run``, or replay over the history) makes the same notifications.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from alerting.alerts import Alert
from alerting.notification import Notification, NotifiedAlert, NotifiedStatus
from alerting.routing import Route
from runner.store.records import from_epoch

Muted = Callable[[Alert, datetime], bool]
"""True for an alert that is silenced or inhibited at the given time."""
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

    def __init__(
        self,
        root: Route,
        groups: Iterable[AlertGroup] = (),
        *,
        resend: Mapping[str, float] | None = None,
        unresolved: Collection[str] = (),
    ) -> None:
        """``resend``: receivers that hear every firing alert again after that many
        seconds (the ``alertmanager`` kind's ``resend_delay``); ``unresolved``: receivers
        with ``send_resolved: false``."""
        self.root = root
        self.resend = dict(resend or {})
        self.unresolved = frozenset(unresolved)
        self.routes = {r.id: r for r in root.walk()}
        self.groups = {g.key: g for g in groups}
        self._members: dict[str, set[str]] = defaultdict(set)  # group key -> fingerprints
        self._indexed: set[str] = set()
        self._due: dict[str, float] = {}  # group key -> due time, for groups with one
        for group in self.groups.values():
            self._schedule(group)

    def touch(self, alert: Alert, at: float) -> None:
        """Schedule a flush of every group ``alert`` belongs to, after its state changed
        at ``at`` (epoch seconds)."""
        for key, route in self._index(alert):
            group = self.groups.get(key)
            if group is None:
                group = AlertGroup(key, route.id, route.receiver, route.group_labels(alert.labels))
                self.groups[key] = group
            if group.idle:
                group.episode += 1
                group.next_flush_at = at + route.group_wait_seconds
            elif group.next_flush_at is None:
                group.next_flush_at = _next_tick(group.last_flush_at, at, route)
            group.dirty = True
            self._schedule(group)

    def restore(self, group: AlertGroup) -> None:
        """Put back a group as it was (a flush that must not count), with its timers."""
        self.groups[group.key] = group
        self._schedule(group)

    def _schedule(self, group: AlertGroup) -> None:
        due = self._due_at(group)
        if due is None:
            self._due.pop(group.key, None)
        else:
            self._due[group.key] = due

    def next_due(self) -> float | None:
        """The earliest time (epoch seconds) a group is due: a flush or a repeat."""
        return min(self._due.values()) if self._due else None

    def _repeat_seconds(self, group: AlertGroup) -> float | None:
        route = self.routes.get(group.route)
        if route is None:
            return None
        seconds = min(route.repeat_interval_seconds, self.resend.get(group.receiver, math.inf))
        return max(seconds, 1.0)

    def flush_at(
        self,
        epoch: float,
        alerts: Mapping[str, Alert],
        muted: Muted,
        prepare: Prepare | None = None,
    ) -> list[Notification]:
        """The notifications of every group due by ``epoch``, made at ``epoch``."""
        due = [self.groups[key] for key, at in self._due.items() if at <= epoch]
        if len(self._indexed) < len(alerts):  # alerts loaded, not yet touched
            for fingerprint in alerts.keys() - self._indexed:
                self._index(alerts[fingerprint])
        now = from_epoch(epoch)
        found = []
        for group in due:
            members = [
                alert
                for fp in self._members.get(group.key, ())
                if (alert := alerts[fp]).firing or fp in group.notified
            ]
            notification = self._flush_group(group, members, now, muted, prepare)
            self._schedule(group)
            if notification is not None:
                found.append(notification)
        return found

    def _index(self, alert: Alert) -> list[tuple[str, Route]]:
        """Remember which groups ``alert`` belongs to (its labels route it); them."""
        found = [(r.group_key(alert.labels), r) for r in self.root.match(alert.labels)]
        for key, _ in found:
            self._members[key].add(alert.fingerprint)
        self._indexed.add(alert.fingerprint)
        return found

    def _due_at(self, group: AlertGroup) -> float | None:
        repeat_at = None
        repeat = self._repeat_seconds(group)
        if (
            repeat is not None
            and group.last_flush_at is not None
            and any(s != NotifiedStatus.RESOLVED for s in group.notified.values())
        ):
            repeat_at = group.last_flush_at + repeat
        times = [t for t in (group.next_flush_at, repeat_at) if t is not None]
        return min(times) if times else None

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
                    del group.notified[alert.fingerprint]
                    if group.receiver not in self.unresolved:
                        included.append(_notified(alert, status, changed=True))
                        changed = True
            elif muted(alert, now):
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
        every = self._repeat_seconds(group)
        repeat_due = (
            every is not None
            and group.last_flush_at is not None
            and group.last_flush_at + every <= now.timestamp()
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


def _next_tick(last_flush_at: float | None, at: float, route: Route) -> float:
    """The first of the group's ``group_interval`` ticks at or after ``at``: as in
    Alertmanager, a group that has flushed looks again only on its own ticks, so changes
    close together go out together."""
    if last_flush_at is None:
        return at
    interval = route.group_interval_seconds
    if interval <= 0:
        return max(at, last_flush_at)
    return last_flush_at + interval * max(1, math.ceil((at - last_flush_at) / interval))


def _status(alert: Alert) -> NotifiedStatus:
    """A recovery is reported even while the alert flaps: the on-call person must know."""
    if not alert.firing:
        return NotifiedStatus.RESOLVED
    return NotifiedStatus.FLAPPING if alert.flapping else NotifiedStatus.FIRING


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
