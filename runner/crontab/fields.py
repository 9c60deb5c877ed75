"""The time fields of a job line, checked against the grammar every cron reads alike.

A field is a comma list of ``*``, ``N`` or ``N-M``, the last two forms optionally with
``/STEP``; months and weekdays may be written as their three-letter English names, in any
case. Cron implementations differ on anything else — trailing junk after a number, a step
after a single number, ``~`` ranges, ``L`` or ``#`` — so such a field is refused rather
than guessed at.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MACROS = ("reboot", "yearly", "annually", "monthly", "weekly", "daily", "midnight", "hourly")
"""The ``@`` words cron knows; it compares them case-sensitively."""


@dataclass(frozen=True)
class Field:
    """One of the five time fields: its name, its range, and names for its values."""

    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()


_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
FIELDS = (
    Field("minute", 0, 59),
    Field("hour", 0, 23),
    Field("day-of-month", 1, 31),
    Field("month", 1, 12, _MONTHS),
    Field("day-of-week", 0, 7, _DAYS),
)
_ITEM = re.compile(
    r"(?P<start>\*|[0-9]+|[A-Za-z]+)(?:-(?P<end>[0-9]+|[A-Za-z]+))?(?:/(?P<step>.*))?"
)


def _value(field: Field, text: str, item: str) -> int:
    if text.isdigit() and text.isascii():
        number = int(text)
        if not field.low <= number <= field.high:
            where = "" if text == item else f" in {item!r}"
            raise ValueError(
                f"{field.name} {number}{where} is out of range {field.low}-{field.high}"
            )
        return number
    lowered = text.lower()
    if lowered in field.names:
        return field.names.index(lowered) + field.low
    if field.names:
        raise ValueError(
            f"{field.name} {text!r} in {item!r} is not a number or a three-letter name"
        )
    raise ValueError(f"{field.name} {text!r} in {item!r} is not a number")


def _check_item(field: Field, item: str) -> None:
    found = _ITEM.fullmatch(item)
    if found is None:
        raise ValueError(f"{field.name} {item!r} is not '*', N, N-M or one of those with /STEP")
    start, end, step = found["start"], found["end"], found["step"]
    if start == "*":
        if end is not None:
            raise ValueError(f"{field.name} {item!r}: '*' cannot start a range")
    else:
        first = _value(field, start, item)
        if end is None and step is not None:
            raise ValueError(
                f"{field.name} {item!r}: a step needs a range or '*' (crons disagree on N/STEP)"
            )
        if end is not None and first > _value(field, end, item):
            raise ValueError(f"{field.name} {item!r}: the range runs backwards")
    if step is not None and (not step.isdigit() or not step.isascii() or int(step) == 0):
        raise ValueError(f"{field.name} {item!r}: the step must be a whole number above 0")


def check_field(field: Field, token: str) -> None:
    """Refuse (ValueError naming the field) a time field cron would not read as written."""
    for item in token.split(","):
        _check_item(field, item)
