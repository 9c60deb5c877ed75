"""Run by a test in a subprocess: queue a notification, then die by SIGKILL either right
after queueing it or in the middle of sending it."""

from __future__ import annotations

import json
import os
import signal
import sys

from alerting import AlertEngine, Sender, parse_alerting
from alerting.notification import DeliveryResult, Notification
from runner.store.records import from_epoch
from runner.store.store import Store


class DyingNotifier:
    def send(self, notification: Notification) -> DeliveryResult:
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")

    def shutdown(self) -> None:
        return


def main(url: str, raw: str, now: float, point: str) -> None:
    store = Store.open(url)
    config = parse_alerting(json.loads(raw), env={})
    AlertEngine(store, config).evaluate(from_epoch(now))
    if point == "after_enqueue":
        os.kill(os.getpid(), signal.SIGKILL)
    Sender(store, config, notifiers={"team": DyingNotifier()}).deliver_due(from_epoch(now))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4])
