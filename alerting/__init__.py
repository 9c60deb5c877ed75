"""runwatch alerting: rules over the event log → alerts → routes → the outbox → receivers.

An event-log consumer: it reads the store's events and public API and never the engine.
Wire it in with::

    config = load_alerting(settings)          # DefinitionError on any problem
    engine = AlertEngine(store, config)       # engine.evaluate(now) each tick
    sender = Sender(store, config)            # sender.deliver_due(now) each tick
    evaluate_and_deliver(store, config)       # once, at the end of a run/wrap without serve

Names are imported on first use (PEP 562), so ``import alerting`` costs nothing and a
command pays only for the parts it touches.
"""

from __future__ import annotations

# Only modules and underscored names here: the package's public names are its exports.
import sys
import types
import typing

from runner.lazy_names import lazy_names as _lazy_names

if typing.TYPE_CHECKING:
    from alerting.alerts import Alert
    from alerting.config import AlertingConfig, EvaluateInRun, load_alerting, parse_alerting
    from alerting.engine import AlertEngine, EvaluationReport
    from alerting.metrics import firing_alert_counts, notification_counts
    from alerting.notification import DeliveryResult, Notification, Notifier
    from alerting.replay import ReplayResult, replay
    from alerting.sender import DeliveryReport, Sender
    from alerting.short_lived import evaluate_and_deliver
    from runner.store.alerts import AlertState

_HOMES = {
    "Alert": "alerts",
    "AlertEngine": "engine",
    "AlertState": "alerts",
    "AlertingConfig": "config",
    "DeliveryReport": "sender",
    "DeliveryResult": "notification",
    "EvaluateInRun": "config",
    "EvaluationReport": "engine",
    "Notification": "notification",
    "Notifier": "notification",
    "ReplayResult": "replay",
    "Sender": "sender",
    "evaluate_and_deliver": "short_lived",
    "firing_alert_counts": "metrics",
    "load_alerting": "config",
    "notification_counts": "metrics",
    "parse_alerting": "config",
    "replay": "replay",
}

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


__getattr__, __dir__ = _lazy_names(__name__, _HOMES, globals())


class _Package(types.ModuleType):
    """Keeps an exported name that is also a submodule's name (``replay``) bound to the
    export: importing ``alerting.replay`` would otherwise rebind it to the module."""

    def __setattr__(self, name: str, value: typing.Any) -> None:
        if isinstance(value, types.ModuleType) and _HOMES.get(name) == name:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
