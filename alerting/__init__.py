"""runwatch alerting: rules over the event log → alerts → routes → the outbox → receivers.

An event-log consumer: it reads the store's events and public API and never the engine.
Wire it in with::

    config = load_alerting(settings)          # DefinitionError on any problem
    engine = AlertEngine(store, config)       # engine.evaluate(now) each tick
    sender = Sender(store, config)            # sender.deliver_due(now) each tick
    evaluate_and_deliver(store, config)       # once, at the end of a run/wrap without serve
"""

from __future__ import annotations

from alerting.alerts import Alert, AlertState
from alerting.config import AlertingConfig, EvaluateInRun, load_alerting, parse_alerting
from alerting.engine import AlertEngine, EvaluationReport
from alerting.inprocess import evaluate_and_deliver
from alerting.metrics import firing_alert_counts, notification_counts
from alerting.notification import DeliveryResult, Notification, Notifier
from alerting.replay import ReplayResult, replay
from alerting.sender import DeliveryReport, Sender

__all__ = [
    "Alert",
    "AlertEngine",
    "AlertState",
    "AlertingConfig",
    "DeliveryReport",
    "DeliveryResult",
    "EvaluateInRun",
    "EvaluationReport",
    "Notification",
    "Notifier",
    "ReplayResult",
    "Sender",
    "evaluate_and_deliver",
    "firing_alert_counts",
    "load_alerting",
    "notification_counts",
    "parse_alerting",
    "replay",
]
