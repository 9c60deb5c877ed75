"""Cron schedules: checking cron expressions and timezones (croniter syntax, IANA zones)."""

from __future__ import annotations

import difflib

from runner.errors import InvalidScheduleError

_ALIASES = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
_FIELDS = (
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day of month", "1-31 or L"),
    ("month", "1-12 or jan-dec"),
    ("day of week", "0-7 or sun-sat"),
    ("second", "0-59"),
)


def validate_schedule(expr: str) -> None:
    """Raise InvalidScheduleError unless ``expr`` is a cron expression croniter can run.

    Accepted: 5 fields (minute hour day-of-month month day-of-week), 6 fields (a
    trailing seconds field), or an alias such as ``@daily``. An expression that
    parses but never fires (``0 0 31 2 *``) is rejected too.
    """
    from croniter import CroniterBadDateError, CroniterError, croniter  # noqa: PLC0415 - slow import

    if not isinstance(expr, str) or not expr.strip():
        raise InvalidScheduleError(f"expected a cron expression such as '0 2 * * *', got {expr!r}")
    text = expr.strip()
    fields = text.split()
    if text.startswith("@"):
        if text.lower() not in _ALIASES:
            known = ", ".join(sorted(_ALIASES))
            raise InvalidScheduleError(
                f"schedule {expr!r}: unknown alias (expected one of {known})"
            )
    elif len(fields) not in (5, 6):
        raise InvalidScheduleError(
            f"schedule {expr!r}: expected 5 fields (minute hour day-of-month month day-of-week)"
            f" or 6 (with seconds last), got {len(fields)}"
        )
    try:
        croniter(text)
    except CroniterError:
        raise InvalidScheduleError(f"schedule {expr!r}: {_bad_field(fields)}") from None
    try:
        croniter(text).get_next(float)
    except CroniterBadDateError:
        raise InvalidScheduleError(f"schedule {expr!r}: never fires (no such date)") from None


def _bad_field(fields: list[str]) -> str:
    """Say which field of an expression croniter rejects, trying each one on its own."""
    from croniter import CroniterError, croniter  # noqa: PLC0415 - slow import

    for index, value in enumerate(fields):
        probe = ["*"] * len(fields)
        probe[index] = value
        try:
            croniter(" ".join(probe))
        except CroniterError:
            name, allowed = _FIELDS[index]
            return f"{name} field {value!r} is invalid (expected {allowed}, lists, ranges, steps)"
    return "the fields do not combine into a valid expression"


def validate_timezone(name: object) -> None:
    """Raise InvalidScheduleError unless ``name`` is an IANA timezone such as ``Europe/Berlin``."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones  # noqa: PLC0415

    if not isinstance(name, str) or not name:
        raise InvalidScheduleError(
            f"expected an IANA timezone such as 'Europe/Berlin', got {name!r}"
        )
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        close = difflib.get_close_matches(name, sorted(available_timezones()), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise InvalidScheduleError(f"unknown timezone {name!r}{hint}") from None
