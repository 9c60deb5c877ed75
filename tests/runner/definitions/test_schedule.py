"""Cron expressions and timezones: accepted forms and rejection messages."""

from __future__ import annotations

import pytest

from runner.errors import InvalidScheduleError
from runner.scheduling.schedule import validate_schedule, validate_timezone


@pytest.mark.parametrize(
    "expr",
    [
        "0 2 * * *",
        "*/15 * * * *",
        "0 2 * * mon-fri",
        "0 0 L * *",
        "0 2 * * * 30",
        "@daily",
        "@hourly",
    ],
)
def test_croniter_expressions_and_aliases_are_accepted(expr: str) -> None:
    validate_schedule(expr)


@pytest.mark.parametrize(
    ("expr", "problem"),
    [
        ("61 * * * *", "minute field '61' is invalid (expected 0-59"),
        ("0 24 * * *", "hour field '24' is invalid (expected 0-23"),
        ("0 0 0 * *", "day of month field '0' is invalid (expected 1-31"),
        ("0 0 * 13 *", "month field '13' is invalid (expected 1-12"),
        ("0 0 * * 9", "day of week field '9' is invalid (expected 0-7"),
        ("*/0 * * * *", "minute field '*/0' is invalid"),
        ("* * * *", "expected 5 fields (minute hour day-of-month month day-of-week) or 6"),
        ("0 0 * * * * 2030", "got 7"),
        ("@reboot", "unknown alias"),
        ("0 0 31 2 *", "never fires"),
    ],
)
def test_invalid_expressions_say_what_is_wrong(expr: str, problem: str) -> None:
    with pytest.raises(InvalidScheduleError) as caught:
        validate_schedule(expr)

    assert str(caught.value).startswith(f"schedule {expr!r}: ")
    assert problem in str(caught.value)


@pytest.mark.parametrize("expr", ["", "   ", 5])
def test_an_empty_or_non_string_schedule_is_rejected(expr: object) -> None:
    with pytest.raises(InvalidScheduleError, match="expected a cron expression"):
        validate_schedule(expr)  # type: ignore[arg-type]


def test_iana_timezones_are_accepted() -> None:
    validate_timezone("Europe/Berlin")
    validate_timezone("UTC")


def test_an_unknown_timezone_suggests_the_closest_one() -> None:
    with pytest.raises(InvalidScheduleError) as caught:
        validate_timezone("America/New_Yrok")

    assert (
        str(caught.value)
        == "unknown timezone 'America/New_Yrok' (did you mean 'America/New_York'?)"
    )


@pytest.mark.parametrize("name", ["../etc/passwd", "", None, "Not/AZone"])
def test_paths_and_nonsense_are_not_timezones(name: object) -> None:
    with pytest.raises(InvalidScheduleError):
        validate_timezone(name)
