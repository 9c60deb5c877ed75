"""Is the scheduler alive: the one answer `serve`'s ``/healthz``, `wrap` and `check`
(would a failure be alerted), orphan recovery, the heartbeat metric and the dashboard share.

Every `runwatch serve` writes the heartbeat ``scheduler:<process identity>`` into the
store every ``heartbeat_interval`` (state ``running``), and once more with state
``stopped`` when it stops. A scheduler is alive while its newest heartbeat is not
``stopped`` and at most ``stale_after`` old: ``MISSED_BEATS`` intervals (a loaded host
may skip a beat or two; 60 s at the default interval). A short ``heartbeat_interval``
buys a quick takeover of a hung scheduler; there is no floor under it.

Import-light on purpose: `wrap` asks it on its lean path.
"""

from __future__ import annotations

HEARTBEAT_PREFIX = "scheduler"
"""Every scheduler heartbeat's name starts with this and a colon."""
HEARTBEAT_PATTERN = HEARTBEAT_PREFIX + ":%"
"""The SQL ``LIKE`` pattern of the scheduler heartbeats' names."""
RUNNING = "running"
STOPPED = "stopped"
"""The ``state`` of a heartbeat's info: beating, or written once at a clean stop."""
DEFAULT_INTERVAL_SECONDS = 15.0
"""How often `serve` heartbeats unless ``server.heartbeat_interval`` says otherwise."""
MISSED_BEATS = 4
"""A scheduler silent for this many intervals is gone."""


def heartbeat_name(identity: str) -> str:
    """The heartbeat name of the scheduler with this process identity."""
    return f"{HEARTBEAT_PREFIX}:{identity}"


def identity_of(name: str) -> str:
    """The process identity in a scheduler heartbeat's name."""
    return name[len(HEARTBEAT_PREFIX) + 1 :]


def stale_after(interval_seconds: float = DEFAULT_INTERVAL_SECONDS) -> float:
    """Seconds of silence after which a scheduler beating every ``interval_seconds`` is gone."""
    return MISSED_BEATS * interval_seconds


def is_alive(
    beat_at: float | None,
    now: float,
    *,
    stopped: bool = False,
    interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
) -> bool:
    """Whether a scheduler whose newest heartbeat is at epoch ``beat_at`` (None: never)
    is alive at epoch ``now``."""
    if beat_at is None or stopped:
        return False
    return now - beat_at <= stale_after(interval_seconds)
