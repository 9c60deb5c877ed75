"""Rule replay: the alert engine's own timeline over the stored history, sending nothing.

Replay runs the same ``Evaluator`` as the engine, from empty state over every stored
event in order, on a simulated clock that stands at each event's recorded time and at
each group's due time (``Evaluator.advance``/``settle``), with every stored silence
applied at the moments it was in force. For the rules that were in force it therefore
makes exactly the notifications the engine queued, at the same times, on every
invocation; for a changed rule set it shows what those rules would have sent. Only
notifications made between ``since`` and ``until`` are reported.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from alerting.alerts import Alert
from alerting.config import AlertingConfig
from alerting.evaluation import Evaluator
from alerting.job_facts import JobInfo
from alerting.notification import Notification
from alerting.silences import list_silences
from runner.store.store import Store


@dataclass(frozen=True)
class ReplayResult:
    """What the rule set would have done between ``since`` and ``until``."""

    since: datetime
    until: datetime
    events: int
    alerts: list[Alert]
    notifications: list[Notification]


def replay(
    store: Store,
    config: AlertingConfig,
    since: datetime,
    until: datetime,
    *,
    batch_size: int = 1000,
) -> ReplayResult:
    """Replay stored events through ``config`` in memory; the store is only read."""
    evaluator = Evaluator(
        config,
        infos={j.name: JobInfo.from_record(j) for j in store.list_jobs()},
        silences=list_silences(store),
    )
    notifications: list[Notification] = []
    handled = cursor = 0
    while True:
        events = [e for e in store.events_after(cursor, limit=batch_size) if e.at <= until]
        if not events:
            break
        cursor = events[-1].id
        handled += sum(1 for e in events if e.at >= since)
        notifications += evaluator.advance(events)
    notifications += evaluator.settle(until)
    fired = [a for a in evaluator.book.alerts.values() if a.starts_at >= since.timestamp()]
    fired.sort(key=lambda a: (a.starts_at, a.fingerprint))
    shown = [n for n in notifications if since <= n.created_at <= until]
    return ReplayResult(since, until, handled, fired, shown)
