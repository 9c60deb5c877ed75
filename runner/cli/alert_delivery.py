"""Alert evaluation at the end of `run` and `wrap` when no `runwatch serve` is running.

Only a process that has rules to evaluate pays for importing the alerting stack, and
a failure here never changes the exit code of the command that ran the job.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from runner.config import Settings
from runner.store.store import Store
from runner.wrap.alert_gaps import serve_alive

logger = logging.getLogger(__name__)


def scheduler_alive(store: Store, now: datetime) -> bool:
    """True when a `runwatch serve` heartbeat is recent."""
    return serve_alive(store.spine_connection(), now.timestamp())


class InRunAlerts:
    """Alerting for one `run`/`wrap`: configuration checked at start, delivery at the end."""

    def __init__(self, settings: Settings) -> None:
        self.config: Any = None
        if settings.alerting.get("rules"):
            from alerting import load_alerting

            self.config = load_alerting(settings)

    def deliver(self, store: Store, now: datetime) -> None:
        """Evaluate rules and deliver what is due, unless a scheduler does it (``auto``)."""
        if self.config is None:
            return
        from alerting import EvaluateInRun, evaluate_and_deliver

        mode = self.config.evaluate_in_run
        if mode is EvaluateInRun.NEVER or (
            mode is EvaluateInRun.AUTO and scheduler_alive(store, now)
        ):
            return
        try:
            evaluate_and_deliver(store, self.config)
        except Exception:
            logger.exception("alert evaluation failed; notifications stay queued")
