"""Named points of wrap's life where a test can hold it, to send a signal exactly there.

``RUNWATCH_WRAP_PAUSE=POINT:FIFO`` makes wrap, on reaching ``POINT``, write the point's
name to the FIFO and then wait until the FIFO is opened for writing and closed again.
Unset (always, outside the signal tests), reaching a point costs one comparison.
"""

from __future__ import annotations

from collections.abc import Mapping

PAUSE_VARIABLE = "RUNWATCH_WRAP_PAUSE"
POINTS = ("started", "settings", "sink", "locked", "spawning", "spawned", "watching")
"""In the order wrap reaches them on its way to the running command."""


class Checkpoints:
    """The pause asked for in the environment, if any."""

    def __init__(self, env: Mapping[str, str]) -> None:
        point, _, fifo = env.get(PAUSE_VARIABLE, "").partition(":")
        self.point = point or None
        self.fifo = fifo

    def reach(self, name: str) -> None:
        """Hold here when the test asked to (see the module's doc)."""
        if name != self.point:
            return
        with open(self.fifo, "w") as announce:
            announce.write(name + "\n")
        with open(self.fifo) as release:
            release.read()
