"""Rule replay: evaluate a rule set against the stored event history, sending nothing.

Events before ``since`` only warm up the job facts (consecutive failures, last
success); from ``since`` on, a virtual clock walks through the history, ticking the
time-based rules and the group timers every ``step_seconds`` and at every event, so a
team sees which alerts and notifications a changed rule set would have produced.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from alerting.alerts import Alert
from alerting.config import AlertingConfig
from alerting.evaluation import Evaluator
from alerting.facts import JobFacts, JobInfo
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
    step_seconds: float = 60.0,
    batch_size: int = 1000,
) -> ReplayResult:
    """Replay stored events through ``config`` in memory; the store is only read."""
    evaluator = Evaluator(
        config,
        infos={j.name: JobInfo.from_record(j) for j in store.list_jobs()},
        silences=list_silences(store.db),
    )
    step = timedelta(seconds=step_seconds)
    notifications: list[Notification] = []
    clock = since
    handled = 0

    def advance(to: datetime) -> None:
        nonlocal clock
        while clock + step <= to:
            clock += step
            evaluator.tick(clock)
            notifications.extend(evaluator.flush(clock))

    cursor = 0
    while True:
        events = store.events_after(cursor, limit=batch_size)
        if not events:
            break
        cursor = events[-1].id
        for event in events:
            if event.at < since:
                evaluator.facts.setdefault(event.job, JobFacts()).apply(event)
                continue
            if event.at > until:
                break
            advance(event.at)
            handled += evaluator.process([event], event.at)
            notifications.extend(evaluator.flush(event.at))
        else:
            continue
        break
    advance(until)
    fired = [a for a in evaluator.book.alerts.values() if a.starts_at >= since.timestamp()]
    fired.sort(key=lambda a: (a.starts_at, a.fingerprint))
    return ReplayResult(since, until, handled, fired, notifications)
