"""Ping an external heartbeat URL (Healthchecks-style), so a dead scheduler is noticed
from outside. Each ping runs on a short-lived thread: a slow or unreachable endpoint
never delays the scheduler, and a failure is one log line that never shows the URL (its
path is usually the check's secret)."""

from __future__ import annotations

import logging
import threading
import urllib.request
from datetime import datetime

from runner.secret import Secret

logger = logging.getLogger(__name__)

PING_TIMEOUT_SECONDS = 10.0


class HeartbeatPinger:
    """Call ``ping(now)`` periodically; at most one ping is in flight at a time."""

    def __init__(self, url: Secret) -> None:
        self.url = url
        self._busy = threading.Lock()

    def ping(self, _now: datetime) -> None:
        """Start a ping unless the previous one is still running."""
        if self._busy.acquire(blocking=False):
            threading.Thread(target=self._send, name="runwatch-heartbeat", daemon=True).start()

    def _send(self) -> None:
        try:
            request = urllib.request.Request(self.url.reveal(), method="GET")  # noqa: S310
            with urllib.request.urlopen(request, timeout=PING_TIMEOUT_SECONDS):  # noqa: S310
                pass
        except OSError as exc:
            logger.warning("heartbeat ping failed: %s", type(exc).__name__)
        finally:
            self._busy.release()
