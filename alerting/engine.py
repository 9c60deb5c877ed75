"""The alert engine: an event-log consumer with a durable cursor.

``evaluate(now)`` reads the events after its cursor, updates job facts and alerts, runs
the time-based rules, flushes the alert groups that are due into the outbox and moves
the cursor, all in one transaction that holds the cursor row. A crash leaves the store
as it was before the call, and engines in several processes never handle an event
twice. Nothing is sent here: the ``Sender`` delivers the outbox.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from alerting import outbox, state
from alerting.config import AlertingConfig
from alerting.evaluation import Evaluator
from alerting.job_facts import JobInfo
from alerting.rules import RuleSet
from alerting.run_facts import RunFacts
from alerting.silences import list_silences
from runner.clock import Clock, utcnow
from runner.store import alert_groups, cursors
from runner.store.store import Store

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvaluationReport:
    """What one ``evaluate`` call did."""

    events: int
    fired: int
    resolved: int
    notifications: int
    cursor: int
    next_flush_at: datetime | None = None


class AlertEngine:
    """Turns the store's event log into alerts and queued notifications."""

    def __init__(
        self,
        store: Store,
        config: AlertingConfig,
        *,
        clock: Clock = utcnow,
        batch_size: int = 1000,
        max_events: int = 100_000,
        tick_seconds: float = 5.0,
    ) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self.batch_size = batch_size
        self.max_events = max_events
        self._rules = RuleSet(config.rules)
        self._facts = RunFacts(store, dashboard_url=config.dashboard_url)
        self.tick_seconds = tick_seconds
        self._last_full: datetime | None = None

    def evaluate(self, now: datetime | None = None) -> EvaluationReport:
        """Handle new events and due timers up to ``now``; queue the notifications due.

        Each notification is made at its group's due time on the events' own timeline
        (``Evaluator.advance``), however late this call comes, so what is queued does not
        depend on when or by which process the engine runs.
        """
        now = now or self.clock()
        store = self.store
        if self._idle(now):
            return EvaluationReport(0, 0, 0, 0, cursors.read_cursor(store, state.CURSOR))
        self._last_full = now
        self._facts.clear()
        with store.transaction():
            cursor = cursors.lock_cursor(store, state.CURSOR, now)
            evaluator = Evaluator(
                self.config,
                facts=state.load_facts(store),
                alerts=state.load_alerts(store),
                groups=state.load_groups(store),
                infos={j.name: JobInfo.from_record(j) for j in self.store.list_jobs()},
                silences=list_silences(store),
                enrich=self._facts,
                rules=self._rules,
            )
            handled = 0
            notifications = []
            while handled < self.max_events:
                events = self.store.events_after(cursor, limit=self.batch_size)
                if not events:
                    break
                handled += len(events)
                notifications += evaluator.advance(events)
                cursor = events[-1].id
            notifications += evaluator.settle(now)
            state.save_facts(store, evaluator.facts, evaluator.dirty_jobs, now)
            state.save_alerts(store, evaluator.book.alerts.values())
            state.save_groups(store, evaluator.groups.groups.values(), now)
            outbox.enqueue_many(store, notifications, now)
            cursors.advance_cursor(store, state.CURSOR, cursor, now)
        if evaluator.fired or evaluator.resolved or notifications:
            logger.info(
                "alerts: %d events, %d fired, %d resolved, %d notifications queued",
                handled,
                evaluator.fired,
                evaluator.resolved,
                len(notifications),
            )
        next_due = evaluator.groups.next_due()
        return EvaluationReport(
            events=handled,
            fired=evaluator.fired,
            resolved=evaluator.resolved,
            notifications=len(notifications),
            cursor=cursor,
            next_flush_at=None
            if next_due is None
            else datetime.fromtimestamp(next_due, now.tzinfo),
        )

    def _idle(self, now: datetime) -> bool:
        """True when a full evaluation has nothing to do: no new event, no group due and
        the time-based rules were evaluated less than ``tick_seconds`` ago. Three small
        queries, so ``serve`` can call ``evaluate`` several times a second."""
        if self._last_full is None or (now - self._last_full).total_seconds() >= self.tick_seconds:
            return False
        if self.store.last_event_id() > cursors.read_cursor(self.store, state.CURSOR):
            return False
        due = alert_groups.next_flush_at(self.store)
        return due is None or due > now.timestamp()
