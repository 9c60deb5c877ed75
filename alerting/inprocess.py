"""Alerting inside a short-lived process (`runwatch run` or `wrap` with no `serve`):
evaluate once, flushing pending groups at once, and deliver what is due before exiting;
whatever cannot be delivered stays queued in the outbox for the next sender."""

from __future__ import annotations

from datetime import datetime

from alerting.config import AlertingConfig
from alerting.engine import AlertEngine, EvaluationReport
from alerting.sender import DeliveryReport, Sender
from runner.clock import Clock, utcnow
from runner.store.store import Store


def evaluate_and_deliver(
    store: Store,
    config: AlertingConfig,
    *,
    now: datetime | None = None,
    clock: Clock = utcnow,
    flush_all: bool = True,
) -> tuple[EvaluationReport, DeliveryReport]:
    """One evaluation (group timers skipped when ``flush_all``) and one delivery pass."""
    now = now or clock()
    report = AlertEngine(store, config, clock=clock).evaluate(now, flush_all=flush_all)
    sender = Sender(store, config, clock=clock)
    try:
        delivered = sender.deliver_due(now)
    finally:
        sender.close()
    return report, delivered
