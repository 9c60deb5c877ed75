"""Stopping a process group: SIGTERM now, SIGKILL to whatever is left when the grace runs out.

Standard library only (no ``logging``): the keeper process imports this at its start.
"""

from __future__ import annotations

import os
import signal
import time

from runner.executors.local.notices import warn

_POLL_SECONDS = 0.01


def group_alive(pgid: int) -> bool:
    """True while any process (a zombie too) is in the group."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def signal_group(pgid: int, signum: int) -> None:
    """Send ``signum`` to the group; a group that is already gone is fine."""
    try:
        os.killpg(pgid, signum)
    except ProcessLookupError:
        return
    except PermissionError as exc:
        warn(__name__, f"cannot signal process group {pgid}: {exc}")


class GroupStop:
    """The stop of one attempt's process group.

    The group id is the pid of its leader, which the caller must not reap before calling
    ``begin`` or ``kill_if_due`` (a zombie leader keeps the id from being reused).
    """

    def __init__(self, pgid: int, *, grace: float) -> None:
        self.pgid = pgid
        self._grace = max(grace, 0.0)
        self._deadline: float | None = None
        self._killed = False

    def begin(self) -> None:
        """SIGTERM the group and start the grace period."""
        self._deadline = time.monotonic() + self._grace
        signal_group(self.pgid, signal.SIGTERM)

    def seconds_left(self) -> float | None:
        """Until SIGKILL is due; None before ``begin`` or after the kill."""
        if self._deadline is None or self._killed:
            return None
        return max(self._deadline - time.monotonic(), 0.0)

    def kill_if_due(self) -> None:
        """SIGKILL the group once the grace has run out."""
        left = self.seconds_left()
        if left is not None and left <= 0:
            self._killed = True
            signal_group(self.pgid, signal.SIGKILL)

    def wait_for_group(self) -> None:
        """After the leader is reaped: wait for the rest of the group, SIGKILL it at the deadline.

        The group id cannot be reused while any member lives, so signalling it stays safe.
        """
        while not self._killed and group_alive(self.pgid):
            left = self.seconds_left()
            if left is None:
                return
            if left <= 0:
                self.kill_if_due()
                return
            time.sleep(min(left, _POLL_SECONDS))
