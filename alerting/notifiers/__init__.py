"""Notifiers, one module per receiver kind, imported only when a receiver of that kind is
used (so a ``runwatch run`` never pays for slack-sdk or pagerduty unless it sends)."""

from __future__ import annotations

from importlib import import_module

from alerting.notification import Notifier
from alerting.receivers import Receiver

_KINDS = {
    "slack": "alerting.notifiers.slack:SlackNotifier",
    "pagerduty": "alerting.notifiers.pagerduty:PagerDutyNotifier",
    "msteams": "alerting.notifiers.msteams:MSTeamsNotifier",
    "opsgenie": "alerting.notifiers.opsgenie:OpsgenieNotifier",
    "email": "alerting.notifiers.smtp:EmailNotifier",
    "apprise": "alerting.notifiers.apprise:AppriseNotifier",
    "alertmanager": "alerting.notifiers.alertmanager:AlertmanagerNotifier",
    "webhook": "alerting.notifiers.webhook:WebhookNotifier",
    "log": "alerting.notifiers.log:LogNotifier",
    "memory": "alerting.notifiers.memory:MemoryNotifier",
}


def create_notifier(receiver: Receiver) -> Notifier:
    """A notifier for ``receiver``, its module imported on first use."""
    module, name = _KINDS[receiver.kind].split(":")
    factory = getattr(import_module(module), name)
    notifier: Notifier = factory(receiver)
    return notifier
