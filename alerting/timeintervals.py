"""Alertmanager's ``time_intervals``: named sets of times of day, weekdays, days of the
month, months and years, in a time zone; routes name them in ``mute_time_intervals`` and
``active_time_intervals``.

An interval contains a moment when every field it sets contains it (an unset field
contains everything); a named set contains it when any of its intervals does. Times of
day are ``[start, end)`` in minutes; negative days of the month count from its end.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from alerting.config_reader import KeyPath

_KEYS = ("times", "weekdays", "days_of_month", "months", "years", "location")
_CLOCK = re.compile(r"^(?:([01][0-9]|2[0-3]):([0-5][0-9])|(24):(00))$")
_WEEKDAYS = {name.lower(): (i + 1) % 7 for i, name in enumerate(calendar.day_name)}
_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}

Span = tuple[int, int]
"""An inclusive range ``(begin, end)`` of weekdays, days, months or years."""


@dataclass(frozen=True)
class TimeInterval:
    """One entry of a named interval: each set field must contain the moment."""

    times: tuple[Span, ...] = ()
    """Minutes since midnight, ``[begin, end)``."""
    weekdays: tuple[Span, ...] = ()
    """Sunday is 0, as in Go and Alertmanager."""
    days_of_month: tuple[Span, ...] = ()
    months: tuple[Span, ...] = ()
    years: tuple[Span, ...] = ()
    location: str = "UTC"

    def contains(self, moment: datetime) -> bool:
        """True when ``moment`` (timezone-aware) falls in this interval."""
        # "Local", as in Go: the machine's own time zone
        local = moment.astimezone(None if self.location == "Local" else ZoneInfo(self.location))
        minute = local.hour * 60 + local.minute
        weekday = (local.weekday() + 1) % 7
        return (
            _any(self.times, lambda b, e: b <= minute < e)
            and _any(self.weekdays, lambda b, e: b <= weekday <= e)
            and _any(self.days_of_month, lambda b, e: _in_month_days(local, b, e))
            and _any(self.months, lambda b, e: b <= local.month <= e)
            and _any(self.years, lambda b, e: b <= local.year <= e)
        )


@dataclass(frozen=True)
class NamedTimeInterval:
    """A ``time_intervals`` entry: a name and the intervals it stands for."""

    name: str
    intervals: tuple[TimeInterval, ...]

    def contains(self, moment: datetime) -> bool:
        """True when any of the intervals contains ``moment``."""
        return any(i.contains(moment) for i in self.intervals)


def _any(spans: Sequence[Span], test: Any) -> bool:
    return not spans or any(test(b, e) for b, e in spans)


def _in_month_days(local: datetime, begin: int, end: int) -> bool:
    days = calendar.monthrange(local.year, local.month)[1]
    begin = days + begin + 1 if begin < 0 else begin
    end = days + end + 1 if end < 0 else end
    if begin > days:
        return False
    return max(begin, -days) <= local.day <= min(end, days)


def parse_time_intervals(raw: object, where: KeyPath) -> dict[str, NamedTimeInterval]:
    """A ``time_intervals`` list in Alertmanager's format, by name (DefinitionError)."""
    found: dict[str, NamedTimeInterval] = {}
    for i, value in enumerate(where.items(raw)):
        at = where.index(i)
        body = at.mapping(value, ("name", "time_intervals"))
        name = at.key("name").text(body.get("name"))
        if name in found:
            at.key("name").fail(f"duplicate time interval name {name!r}")
        entries = at.key("time_intervals").items(body.get("time_intervals"))
        found[name] = NamedTimeInterval(
            name,
            tuple(_interval(v, at.key("time_intervals").index(j)) for j, v in enumerate(entries)),
        )
    return found


def _interval(raw: object, where: KeyPath) -> TimeInterval:
    body = where.mapping(raw, _KEYS)
    location = "UTC"
    if "location" in body:
        location = where.key("location").text(body["location"])
        try:
            if location != "Local":
                ZoneInfo(location)
        except (ZoneInfoNotFoundError, ValueError):
            where.key("location").fail(f"{location!r} is not an IANA time zone")
    return TimeInterval(
        times=tuple(
            _times(v, where.key("times").index(i))
            for i, v in enumerate(where.key("times").items(body.get("times")))
        ),
        weekdays=_spans(body, "weekdays", where, _Field(_WEEKDAYS, (0, 6), numbers=False)),
        days_of_month=_spans(body, "days_of_month", where, _Field({}, (-31, 31))),
        months=_spans(body, "months", where, _Field(_MONTHS, (1, 12))),
        years=_spans(body, "years", where, _Field({}, (1, 9999))),
        location=location,
    )


def _times(raw: object, where: KeyPath) -> Span:
    body = where.mapping(raw, ("start_time", "end_time"))
    minutes = []
    for key in ("start_time", "end_time"):
        text = body.get(key)
        found = _CLOCK.match(text) if isinstance(text, str) else None
        if found is None:
            where.key(key).fail(f"{text!r}: expected a time of day HH:MM (00:00 to 24:00)")
        hours, mins = (int(g) for g in found.groups() if g is not None)
        minutes.append(hours * 60 + mins)
    if minutes[0] >= minutes[1]:
        where.fail("start_time must be before end_time")
    return minutes[0], minutes[1]


@dataclass(frozen=True)
class _Field:
    names: Mapping[str, int]
    bounds: Span
    numbers: bool = True


def _spans(body: Mapping[str, Any], key: str, where: KeyPath, kind: _Field) -> tuple[Span, ...]:
    found = []
    for i, value in enumerate(where.key(key).items(body.get(key))):
        at = where.key(key).index(i)
        text = str(value) if isinstance(value, int | str) and value is not True else None
        parts = text.split(":") if text is not None else []
        if not 1 <= len(parts) <= 2:
            at.fail(f"{value!r}: expected a value or a range such as 'a:b'")
        begin, end = (_bound(p, at, value, kind) for p in (parts[0], parts[-1]))
        # days_of_month '5:-1' runs from the 5th to the month's last day; '-5:1' is an error
        mixed = key == "days_of_month" and (begin < 0) != (end < 0)
        if mixed and begin < 0:
            at.fail(f"{value!r}: a range that starts at a negative day must end at one")
        if not mixed and begin > end:
            at.fail(f"{value!r}: the range ends before it begins")
        found.append((begin, end))
    return tuple(found)


def _bound(part: str, where: KeyPath, value: object, kind: _Field) -> int:
    part = part.strip().lower()
    if part in kind.names:
        return kind.names[part]
    if not kind.numbers:
        where.fail(f"{value!r}: {part!r} is not a day of the week")
    if not part.removeprefix("-").isdigit():
        where.fail(f"{value!r}: {part!r} is not a number")
    number = int(part)
    low, high = kind.bounds
    if not low <= number <= high or (low < 0 and number == 0):
        where.fail(f"{value!r}: {number} is out of range {low}..{high}")
    return number
