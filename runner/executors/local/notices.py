"""Warnings of the output capture and of process-group stops (a log file that cannot be
written, a group that cannot be signalled).

In the executor's process they are logged. The keeper process imports no ``logging`` (it
starts before a run's first command can) and its own stderr goes nowhere, so it hands
them to its parent instead (``send_to``), which logs them. Standard library only.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (the keeper's start)
if TYPE_CHECKING:
    from collections.abc import Callable

_sink: list[Callable[[str], None]] = []


def warn(logger: str, message: str) -> None:
    """Log ``message`` as a warning of ``logger``, or hand it to the sink set in this process."""
    if _sink:
        _sink[0](message)
        return
    import logging  # loaded already wherever there is no sink

    logging.getLogger(logger).warning("%s", message)


def send_to(sink: Callable[[str], None]) -> None:
    """From now on, hand this process's warnings to ``sink`` instead of logging them."""
    _sink[:] = [sink]
