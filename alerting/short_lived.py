"""Alerting inside a short-lived process (`runwatch run` or `wrap` with no `serve`):
evaluate, and deliver what is due before exiting. Group timers are honoured: the groups
stay scheduled in the store (their due times are durable), and the process waits for a
due time that is near (``wait_seconds``) so that jobs failing together are one message;
a later one is honoured by `serve` or by the next `run`/`wrap` that evaluates."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

from alerting.config import AlertingConfig
from alerting.engine import AlertEngine, EvaluationReport
from alerting.sender import DeliveryReport, Sender
from runner.clock import Clock, utcnow
from runner.durations import format_duration
from runner.store import alert_groups
from runner.store.records import from_epoch
from runner.store.store import Store

IN_RUN_WAIT_SECONDS = 60.0
"""How long a `run`/`wrap` waits at its end for a group due soon (group_wait)."""

_MAX_PASSES = 100


def evaluate_and_deliver(
    store: Store,
    config: AlertingConfig,
    *,
    clock: Clock = utcnow,
    wait_seconds: float = IN_RUN_WAIT_SECONDS,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[EvaluationReport, DeliveryReport]:
    """Evaluate and deliver; while a group is due within ``wait_seconds`` of the start,
    wait for it and do it again. Several processes doing this at once make one message
    per group: the engine's transaction lets only one of them flush it."""
    engine = AlertEngine(store, config, clock=clock, tick_seconds=0.0)
    sender = Sender(store, config, clock=clock)
    horizon = clock() + timedelta(seconds=wait_seconds)
    try:
        for _ in range(_MAX_PASSES):
            report = engine.evaluate(clock())
            delivered = sender.deliver_due(clock())
            due = alert_groups.next_flush_at(store)
            if due is None or from_epoch(due) > horizon:
                break
            sleep(max(0.0, min(due - clock().timestamp(), wait_seconds)) + 0.01)
        return report, delivered
    finally:
        sender.close()


def needs_serve(config: AlertingConfig) -> list[str]:
    """What in ``config`` a `run`/`wrap` cannot honour alone (for `runwatch check`)."""
    found = []
    for route in config.route.walk():
        if route.group_wait_seconds > IN_RUN_WAIT_SECONDS:
            found.append(
                f"route {route.id!r}: group_wait {format_duration(route.group_wait_seconds)} is "
                f"longer than the {format_duration(IN_RUN_WAIT_SECONDS)} a `run` or `wrap` waits "
                "at its end: without `runwatch serve`, a new group's first notification waits "
                "for the next run, wrap or serve"
            )
    if any(r.group_interval_seconds > IN_RUN_WAIT_SECONDS for r in config.route.walk()):
        found.append(
            "changes to a group within group_interval of its last notification, and "
            "repeat_interval reminders, are sent by `runwatch serve` or by the next run or "
            "wrap after they fall due"
        )
    return found
