"""Times as the viewer sees them, and schedules read in the job's timezone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboards.schedule import next_fire_times, previous_fire_time
from dashboards.timezones import (
    age_text,
    day_bounds,
    duration_text,
    exact_duration_text,
    local,
    local_ms,
    start_of_day,
    zone_of,
)

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def test_days_are_calendar_days_of_the_zone_including_dst_changes() -> None:
    now = datetime(2024, 3, 31, 12, 0, tzinfo=UTC)  # Berlin springs forward at 02:00 that day
    days = day_bounds(now, "Europe/Berlin", 2)

    assert [(lo.isoformat(), hi.isoformat()) for lo, hi in days] == [
        ("2024-03-30T00:00:00+01:00", "2024-03-31T00:00:00+01:00"),
        ("2024-03-31T00:00:00+01:00", "2024-04-01T00:00:00+02:00"),
    ]
    assert days[1][1].timestamp() - days[1][0].timestamp() == 23 * 3600


def test_today_starts_at_the_viewers_midnight() -> None:
    assert start_of_day(T0, "America/New_York") == datetime(2024, 5, 1, 4, 0, tzinfo=UTC)
    assert start_of_day(T0, "Asia/Tokyo") == datetime(2024, 5, 1, 15, 0, tzinfo=UTC) - timedelta(
        days=1
    )


def test_an_unknown_zone_reads_as_utc() -> None:
    assert zone_of("Mars/Olympus") == zone_of("UTC")
    assert local(T0, "Mars/Olympus") == "2024-05-01 12:00:00"


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.25, "250 ms"),
        (42, "42 s"),
        (200, "3 min 20 s"),
        (7500, "2 h 5 min"),
        (3 * 86400 + 4 * 3600, "3 d 4 h"),
        (None, ""),
    ],
)
def test_durations_read_as_people_say_them(seconds: float | None, text: str) -> None:
    assert duration_text(seconds) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0004, "0.4 ms"),
        (0.25, "250 ms"),
        (1.5344, "1.534 s"),
        (59.9996, "1 min 0.000 s"),
        (200.125, "3 min 20.125 s"),
        (7500, "2 h 5 min"),
        (None, ""),
    ],
)
def test_attempt_durations_keep_their_milliseconds(seconds: float | None, text: str) -> None:
    assert exact_duration_text(seconds) == text


def test_times_to_the_millisecond_are_in_the_viewers_zone() -> None:
    moment = T0 + timedelta(microseconds=125_900)
    assert local_ms(moment, "Europe/Berlin") == "2024-05-01 14:00:00.125"
    assert local_ms(moment, "UTC", "%H:%M:%S") == "12:00:00.125"
    assert local_ms(None, "UTC") == ""


def test_ages_look_back_and_ahead() -> None:
    assert age_text(T0 - timedelta(minutes=5), T0) == "5 min ago"
    assert age_text(T0 + timedelta(hours=2), T0) == "in 2 h"
    assert age_text(None, T0) == ""


def test_fire_times_are_read_in_the_jobs_timezone() -> None:
    fires = next_fire_times("30 1 * * *", "Europe/Berlin", T0, 2)

    assert fires == (
        datetime(2024, 5, 1, 23, 30, tzinfo=UTC),
        datetime(2024, 5, 2, 23, 30, tzinfo=UTC),
    )
    assert previous_fire_time("30 1 * * *", "Europe/Berlin", T0) == datetime(
        2024, 4, 30, 23, 30, tzinfo=UTC
    )
    # a fire time exactly now counts as the previous one
    assert previous_fire_time("0 * * * *", "UTC", T0) == T0


def test_no_schedule_or_a_broken_one_has_no_fire_times() -> None:
    assert next_fire_times(None, "UTC", T0) == ()
    assert next_fire_times("61 * * * *", "UTC", T0) == ()
    assert previous_fire_time("", "UTC", T0) is None
