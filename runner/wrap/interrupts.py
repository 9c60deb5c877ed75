"""Signals sent to `runwatch wrap`, handled for its whole life.

The handlers are installed before anything else wrap does — before the settings are
read, the store is written or the command is spawned — so no SIGTERM, SIGINT or SIGHUP
ever kills wrap itself and leaves a command running unsupervised or a run open. A
signal that comes before the command starts stops it from starting (the run is closed
as cancelled); one that comes while it runs is passed on to its process group; either
way wrap exits 128+N.
"""

from __future__ import annotations

import signal

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    from collections.abc import Callable

    Handler = Callable[..., object] | int | None

INTERRUPTS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)
"""Signals that cancel the run."""
FORWARDED = (*INTERRUPTS, signal.SIGUSR1, signal.SIGUSR2)
"""Signals sent to `runwatch wrap` that it passes on to the command."""


class Interrupts:
    """Records the signals wrap receives and relays them to the running command."""

    def __init__(self) -> None:
        self.first: int | None = None
        """The first interrupting signal received, if any."""
        self._target: Callable[[int], None] | None = None
        self._relayed = False
        self._previous: dict[int, Handler] = {}

    def install(self) -> None:
        """Handle every forwarded signal from now on."""
        for signum in FORWARDED:
            self._previous[signum] = signal.signal(signum, self._on_signal)

    def uninstall(self) -> None:
        """Put back the handlers that were there before ``install``."""
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous.clear()

    def relay_to(self, target: Callable[[int], None] | None) -> None:
        """Pass signals on to ``target`` (None: to nobody), starting with an interrupt
        that came in before there was a command to pass it to."""
        self._target = target
        if target is not None and self.first is not None and not self._relayed:
            self._relayed = True
            target(self.first)

    def _on_signal(self, signum: int, _frame: object) -> None:
        if signum in INTERRUPTS and self.first is None:
            self.first = signum
        target = self._target
        if target is not None:
            if signum == self.first:
                self._relayed = True
            target(signum)
