"""The runwatch error family: one base, each subclass also a matching built-in."""

from __future__ import annotations


class RunwatchError(Exception):
    """Base of every error runwatch raises on purpose."""


class DefinitionError(RunwatchError, ValueError):
    """A job, task, config or rule definition is invalid; the message says where and why."""


class InvalidScheduleError(DefinitionError):
    """A cron expression or timezone cannot be used."""


class DependencyCycleError(DefinitionError):
    """Tasks depend on each other in a cycle; ``cycle`` lists it, first node repeated last."""

    def __init__(self, message: str, cycle: list[str]) -> None:
        super().__init__(message)
        self.cycle = cycle


class UsageError(RunwatchError, ValueError):
    """A command-line option or argument is wrong."""


class StoreError(RunwatchError, RuntimeError):
    """The store cannot be opened, is out of date, or refused a write; ``permanent`` when
    the same write can never succeed (a constraint or a value the column cannot hold),
    as opposed to a locked or unreachable store."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


REFUSED_FOR_GOOD = frozenset({"IntegrityError", "DataError"})
"""The DB-API exception classes (sqlite3's and psycopg's alike) of a write refused for good."""


def refused_for_good(exc: BaseException) -> bool:
    """True when a database driver's error means the write can never succeed."""
    return any(cls.__name__ in REFUSED_FOR_GOOD for cls in type(exc).__mro__)


class NotFoundError(RunwatchError, LookupError):
    """A job, run or attempt named by the user does not exist."""


class RunLostError(StoreError):
    """The run is supervised by another process now: this one took too long and lost it."""
