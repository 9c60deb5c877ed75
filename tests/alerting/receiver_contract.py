"""What every receiver's tests check the same way: a full alert life (firing, repeat,
resolve) on the real engine and sender, and a sweep of the store, logs and stderr for a
secret."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from typing import Any

from alerting import AlertEngine, Sender
from alerting.outbox import NotificationStatus, list_rows
from runner.store.store import Store
from tests.alerting.conftest import EventLog, FixedClock, config
from tests.storesql import sql

RULES = [
    {
        "alert": "JobFailed",
        "when": "run_failed",
        "severity": "error",
        "annotations": {"summary": "{job} failed at {task} (attempt {attempt})"},
        "runbook": "https://wiki.example/runbooks/{job}",
    }
]
TABLES = ("notifications", "alerts", "alert_groups", "alert_job_facts")


def dead_port() -> int:
    """A loopback port nothing listens on (until a test starts a server there)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def alerting_config(receiver: dict[str, Any]) -> dict[str, Any]:
    """One receiver ``r`` taking every alert at once, repeated hourly."""
    return {
        "receivers": {"r": {**receiver, "backoff": "10s", "timeout": "5s"}},
        "route": {
            "receiver": "r",
            "group_wait": "0s",
            "group_interval": "0s",
            "repeat_interval": "1h",
        },
        "rules": RULES,
    }


@dataclass
class Life:
    """The engine and sender of one receiver on the real store."""

    engine: AlertEngine
    sender: Sender
    store: Store
    events: EventLog
    clock: FixedClock

    def fail(self) -> int:
        """A failed run, evaluated and delivered; its run id."""
        run_id = self.events.run(ok=False)
        self.engine.evaluate(self.clock.advance(60))
        self.sender.deliver_due()
        return run_id

    def repeat(self) -> None:
        """An hour later, with the job still failing: a repeat notification."""
        self.engine.evaluate(self.clock.advance(3600))
        self.sender.deliver_due()

    def recover(self) -> int:
        """A successful run, evaluated and delivered; its run id."""
        run_id = self.events.run(ok=True)
        self.engine.evaluate(self.clock.advance(60))
        self.sender.deliver_due()
        return run_id

    def deliver_later(self, seconds: float = 3600) -> None:
        self.sender.deliver_due(self.clock.advance(seconds))

    def statuses(self) -> list[NotificationStatus]:
        return [r.status for r in list_rows(self.store)]

    def errors(self) -> list[str | None]:
        return [r.last_error for r in list_rows(self.store)]


def life(
    store: Store,
    events: EventLog,
    clock: FixedClock,
    receiver: dict[str, Any],
    env: dict[str, str],
) -> Life:
    cfg = config(alerting_config(receiver), env)
    return Life(
        AlertEngine(store, cfg, clock=clock), Sender(store, cfg, clock=clock), store, events, clock
    )


def assert_secret_nowhere(secret: str, store: Store, *texts: str) -> None:
    """``secret`` is in no stored row and in none of ``texts`` (logs, stderr, reprs)."""
    dump = json.dumps([sql(store).rows(f"SELECT * FROM {t}") for t in TABLES], default=str)
    assert secret not in dump
    for text in texts:
        assert secret not in text
