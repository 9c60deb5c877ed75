"""Liveness of a ``serve`` process, judged by the age of the scheduler's heartbeat."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from runner import scheduler_liveness
from runner.clock import Clock, utcnow


@dataclass(frozen=True)
class Health:
    """What ``GET /healthz`` answers: 200 when healthy, 503 when not."""

    healthy: bool
    status: str
    """``ok``, ``starting`` (no heartbeat yet, within the grace), ``stale`` or ``no_heartbeat``."""
    heartbeat_age_seconds: float | None

    def as_json(self) -> dict[str, Any]:
        """The response body."""
        age = self.heartbeat_age_seconds
        return {
            "status": self.status,
            "heartbeat_age_seconds": None if age is None else round(age, 3),
        }


class HeartbeatHealth:
    """Healthy while the latest heartbeat is at most ``max_age_seconds`` old; before the
    first one, healthy for ``max_age_seconds`` after this object was made."""

    def __init__(
        self,
        last_heartbeat: Callable[[], datetime | None],
        *,
        max_age_seconds: float = scheduler_liveness.stale_after(),
        clock: Clock = utcnow,
    ) -> None:
        self._last_heartbeat = last_heartbeat
        self._max_age = max_age_seconds
        self._clock = clock
        self._since = clock()

    def __call__(self) -> Health:
        """The health now."""
        now = self._clock()
        beat = self._last_heartbeat()
        if beat is None:
            waited = (now - self._since).total_seconds()
            if waited <= self._max_age:
                return Health(True, "starting", None)
            return Health(False, "no_heartbeat", None)
        age = max(0.0, (now - beat).total_seconds())
        if age > self._max_age:
            return Health(False, "stale", age)
        return Health(True, "ok", age)
