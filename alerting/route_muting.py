"""Routes muted by their time intervals: a group flushed while its route is muted sends
nothing and stays as it was, so it notifies once the interval is over, as in Alertmanager."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime

from alerting.groups import AlertGroup, GroupBook
from alerting.notification import Notification


def flush_unmuted(
    book: GroupBook, now: datetime, flush: Callable[[], list[Notification]]
) -> list[Notification]:
    """The notifications of ``flush()`` except those of routes muted at ``now``.

    A muted route's groups are put back as they were before the flush, due again one
    ``group_interval`` later (Alertmanager looks at every group each group_interval).
    """
    muted = {route.id: route for route in book.routes.values() if route.muted_at(now)}
    if not muted:
        return flush()
    before = {key: _copy(g) for key, g in book.groups.items() if g.route in muted}
    sent = flush()
    held = {n.group_key for n in sent if n.group_key in before}
    for key in held:
        group = before[key]
        interval = muted[group.route].group_interval_seconds
        group.next_flush_at = now.timestamp() + max(interval, 1.0)
        group.dirty = True
        book.restore(group)
    return [n for n in sent if n.group_key not in held]


def _copy(group: AlertGroup) -> AlertGroup:
    return replace(group, notified=dict(group.notified), labels=dict(group.labels))
