"""Cron schedules in a timezone: fire times across DST transitions, aliases, L and #.

Transitions used (2026):
Europe/Berlin springs forward 03-29 02:00 -> 03:00 (01:00 UTC) and falls back
10-25 03:00 -> 02:00 (01:00 UTC); America/New_York springs forward 03-08 02:00 -> 03:00
(07:00 UTC) and falls back 11-01 02:00 -> 01:00 (06:00 UTC).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from runner.errors import InvalidScheduleError, RunwatchError
from runner.model import DstPolicy, RepeatedTime, SkippedTime
from runner.scheduling.schedule import FireTime, Schedule, validate_schedule, validate_timezone

BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"

SPRING_FORWARD = {BERLIN: date(2026, 3, 29), NEW_YORK: date(2026, 3, 8)}
FALL_BACK = {BERLIN: date(2026, 10, 25), NEW_YORK: date(2026, 11, 1)}
TRANSITION_AT = {
    (BERLIN, "spring"): datetime(2026, 3, 29, 1, tzinfo=UTC),
    (BERLIN, "fall"): datetime(2026, 10, 25, 1, tzinfo=UTC),
    (NEW_YORK, "spring"): datetime(2026, 3, 8, 7, tzinfo=UTC),
    (NEW_YORK, "fall"): datetime(2026, 11, 1, 6, tzinfo=UTC),
}
# The local hour that happens twice on the fall-back day.
REPEATED_HOUR = {BERLIN: 2, NEW_YORK: 1}

ONCE_NEXT_VALID = DstPolicy()
BOTH = DstPolicy(repeated=RepeatedTime.BOTH)
SKIP = DstPolicy(skipped=SkippedTime.SKIP)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def local_day(schedule: Schedule, day: date) -> list[FireTime]:
    """Every fire time from local midnight of ``day`` up to (not including) the next one."""
    start = datetime.combine(day, time(), schedule.tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(), schedule.tz).astimezone(UTC)
    tick = timedelta(microseconds=1)
    return schedule.between(start - tick, end - tick)


def local(fire: FireTime, zone: str) -> datetime:
    return fire.at.astimezone(ZoneInfo(zone))


# -- a daily job at a wall time that a transition skips or repeats -----------------------


@pytest.mark.parametrize("zone", [BERLIN, NEW_YORK])
def test_daily_job_in_the_spring_forward_gap_runs_once_at_the_first_instant_after_it(
    zone: str,
) -> None:
    fires = local_day(Schedule("30 2 * * *", zone), SPRING_FORWARD[zone])

    assert fires == [
        FireTime(
            at=TRANSITION_AT[zone, "spring"],
            wall=datetime.combine(SPRING_FORWARD[zone], time(2, 30)),
            shifted="gap",
        )
    ]
    assert local(fires[0], zone).time() == time(3, 0)


@pytest.mark.parametrize("zone", [BERLIN, NEW_YORK])
def test_daily_job_in_the_spring_forward_gap_does_not_run_that_day_with_skipped_skip(
    zone: str,
) -> None:
    schedule = Schedule("30 2 * * *", zone, SKIP)
    day = SPRING_FORWARD[zone]

    assert local_day(schedule, day) == []
    assert [local(f, zone).time() for f in local_day(schedule, day - timedelta(days=1))] == [
        time(2, 30)
    ]
    assert [local(f, zone).time() for f in local_day(schedule, day + timedelta(days=1))] == [
        time(2, 30)
    ]


@pytest.mark.parametrize("zone", [BERLIN, NEW_YORK])
def test_daily_job_at_a_repeated_wall_time_runs_once_at_its_first_occurrence(zone: str) -> None:
    expr = f"30 {REPEATED_HOUR[zone]} * * *"

    fires = local_day(Schedule(expr, zone), FALL_BACK[zone])

    # The first occurrence is still on summer time: half an hour before the transition.
    assert [f.at for f in fires] == [TRANSITION_AT[zone, "fall"] - timedelta(minutes=30)]
    assert fires[0].shifted is None


@pytest.mark.parametrize("zone", [BERLIN, NEW_YORK])
def test_daily_job_at_a_repeated_wall_time_runs_twice_with_repeated_both(zone: str) -> None:
    expr = f"30 {REPEATED_HOUR[zone]} * * *"

    fires = local_day(Schedule(expr, zone, BOTH), FALL_BACK[zone])

    transition = TRANSITION_AT[zone, "fall"]
    assert [(f.at, f.shifted) for f in fires] == [
        (transition - timedelta(minutes=30), None),
        (transition + timedelta(minutes=30), "repeat"),
    ]
    assert fires[0].wall == fires[1].wall
    assert local(fires[0], zone).utcoffset() != local(fires[1], zone).utcoffset()


def test_daily_job_outside_the_repeated_hour_is_unaffected_by_fall_back() -> None:
    fires = local_day(Schedule("30 2 * * *", NEW_YORK, BOTH), FALL_BACK[NEW_YORK])

    assert [(f.at, f.shifted) for f in fires] == [(utc(2026, 11, 1, 7, 30), None)]


# -- hourly and sub-hourly jobs follow elapsed time ------------------------------------


@pytest.mark.parametrize("zone", [BERLIN, NEW_YORK])
def test_hourly_job_on_fall_back_runs_for_both_occurrences_of_the_repeated_hour(
    zone: str,
) -> None:
    fires = local_day(Schedule("0 * * * *", zone), FALL_BACK[zone])

    assert len(fires) == 25
    repeated = [f for f in fires if local(f, zone).hour == REPEATED_HOUR[zone]]
    transition = TRANSITION_AT[zone, "fall"]
    assert [(f.at, f.shifted) for f in repeated] == [
        (transition - timedelta(hours=1), None),
        (transition, "repeat"),
    ]
    assert {b.at - a.at for a, b in pairwise(fires)} == {timedelta(hours=1)}


@pytest.mark.parametrize("zone", [BERLIN, NEW_YORK])
def test_hourly_job_on_spring_forward_skips_the_missing_hour_without_duplicates(
    zone: str,
) -> None:
    fires = local_day(Schedule("0 * * * *", zone), SPRING_FORWARD[zone])

    hours = [local(f, zone).hour for f in fires]
    assert hours == [0, 1, *range(3, 24)]
    assert len({f.at for f in fires}) == 23
    assert all(f.shifted is None for f in fires)
    assert {b.at - a.at for a, b in pairwise(fires)} == {timedelta(hours=1)}


@pytest.mark.parametrize("day", [*SPRING_FORWARD.values(), *FALL_BACK.values()])
def test_hourly_job_in_utc_fires_24_times_a_day_exactly_on_the_hour(day: date) -> None:
    fires = local_day(Schedule("0 * * * *", "UTC"), day)

    midnight = datetime.combine(day, time(), UTC)
    assert fires == [
        FireTime(
            midnight + timedelta(hours=h), (midnight + timedelta(hours=h)).replace(tzinfo=None)
        )
        for h in range(24)
    ]


@pytest.mark.parametrize(
    ("zone", "season", "per_day"),
    [
        (BERLIN, "spring", 92),
        (BERLIN, "fall", 100),
        (NEW_YORK, "spring", 92),
        (NEW_YORK, "fall", 100),
    ],
)
def test_every_15_minutes_keeps_exact_15_minute_spacing_across_a_transition(
    zone: str, season: str, per_day: int
) -> None:
    schedule = Schedule("*/15 * * * *", zone)
    day = (SPRING_FORWARD if season == "spring" else FALL_BACK)[zone]

    fires = local_day(schedule, day)

    assert len(fires) == per_day
    gaps = {b.at - a.at for a, b in pairwise(fires)}
    assert gaps == {timedelta(minutes=15)}
    transition = TRANSITION_AT[zone, season]
    assert transition in [f.at for f in fires]


# -- expression features ---------------------------------------------------------------


def test_six_field_expression_takes_seconds_from_the_last_field() -> None:
    schedule = Schedule("* * * * * */10", "UTC")

    fires = schedule.between(utc(2026, 1, 1, 0, 0, 55), utc(2026, 1, 1, 0, 1, 30))

    assert [f.at for f in fires] == [
        utc(2026, 1, 1, 0, 1, 0),
        utc(2026, 1, 1, 0, 1, 10),
        utc(2026, 1, 1, 0, 1, 20),
        utc(2026, 1, 1, 0, 1, 30),
    ]


def test_six_field_expression_with_fixed_hour_and_second_fires_once_a_day() -> None:
    schedule = Schedule("15 9 * * * 30", BERLIN)

    fire = schedule.next_after(utc(2026, 7, 1))

    assert local(fire, BERLIN) == datetime(2026, 7, 1, 9, 15, 30, tzinfo=ZoneInfo(BERLIN))


def test_ten_second_schedule_crosses_the_fall_back_hour_in_elapsed_time() -> None:
    schedule = Schedule("* * * * * */10", NEW_YORK)
    transition = TRANSITION_AT[NEW_YORK, "fall"]

    fires = schedule.between(transition - timedelta(seconds=25), transition + timedelta(seconds=20))

    assert [f.at for f in fires] == [transition + timedelta(seconds=s) for s in range(-20, 21, 10)]
    assert [f.shifted for f in fires] == [None, None, "repeat", "repeat", "repeat"]


def test_next_fire_of_an_every_second_schedule_near_a_transition_takes_few_cron_steps() -> None:
    # The scheduler computes the next fire time after each one; issue 3 allows a p99 lag of
    # 250 ms for a `* * * * * *` job, so the search must not walk through an hour of seconds.
    schedule = Schedule("* * * * * *", NEW_YORK)
    steps = 0
    real = schedule._fire_times

    def counting(expr: str, start: datetime, *, forward: bool = True) -> Iterator[datetime]:
        nonlocal steps
        for fire in real(expr, start, forward=forward):
            steps += 1
            yield fire

    schedule._fire_times = counting
    after = TRANSITION_AT[NEW_YORK, "fall"] - timedelta(minutes=1)
    fire = schedule.next_after(after)
    assert fire.at == after + timedelta(seconds=1)
    assert steps <= 20, f"next_after took {steps} cron steps"


@pytest.mark.parametrize(
    ("expr", "after", "expected"),
    [
        ("@hourly", datetime(2026, 7, 1, 10, 20), datetime(2026, 7, 1, 11, 0)),
        ("@daily", datetime(2026, 7, 1, 10, 20), datetime(2026, 7, 2, 0, 0)),
        ("@midnight", datetime(2026, 7, 1, 10, 20), datetime(2026, 7, 2, 0, 0)),
        ("@weekly", datetime(2026, 7, 1, 10, 20), datetime(2026, 7, 5, 0, 0)),  # a Sunday
        ("@monthly", datetime(2026, 7, 1, 10, 20), datetime(2026, 8, 1, 0, 0)),
        ("@yearly", datetime(2026, 7, 1, 10, 20), datetime(2027, 1, 1, 0, 0)),
        ("@annually", datetime(2026, 7, 1, 10, 20), datetime(2027, 1, 1, 0, 0)),
    ],
)
def test_aliases_fire_at_local_midnight_or_on_the_hour(
    expr: str, after: datetime, expected: datetime
) -> None:
    zone = ZoneInfo(BERLIN)
    schedule = Schedule(expr, BERLIN)

    fire = schedule.next_after(after.replace(tzinfo=zone).astimezone(UTC))

    assert fire.at == expected.replace(tzinfo=zone).astimezone(UTC)


def test_hourly_alias_follows_elapsed_time_like_an_hourly_expression() -> None:
    window = (utc(2026, 11, 1, 3, 30), utc(2026, 11, 1, 8, 30))

    alias = Schedule("@hourly", NEW_YORK).between(*window)

    assert alias == Schedule("0 * * * *", NEW_YORK).between(*window)
    assert [f.shifted for f in alias].count("repeat") == 1


def test_daily_alias_on_spring_forward_in_a_zone_whose_midnight_is_skipped() -> None:
    # Chile springs forward at local midnight: 2026-09-06 00:00 does not exist.
    schedule = Schedule("@daily", "America/Santiago")

    fire = schedule.next_after(utc(2026, 9, 5, 12))

    assert fire.shifted == "gap"
    assert fire.at == utc(2026, 9, 6, 4)
    assert local(fire, "America/Santiago").time() == time(1, 0)


def test_l_in_day_of_month_fires_on_the_last_day_of_each_month() -> None:
    schedule = Schedule("0 0 L * *", "UTC")

    fires = schedule.between(utc(2027, 12, 31), utc(2028, 6, 30))

    assert [f.at.date() for f in fires] == [
        date(2028, 1, 31),
        date(2028, 2, 29),
        date(2028, 3, 31),
        date(2028, 4, 30),
        date(2028, 5, 31),
        date(2028, 6, 30),
    ]


def test_hash_in_day_of_week_fires_on_the_nth_weekday_in_local_time() -> None:
    schedule = Schedule("0 9 * * 5#2", BERLIN)

    fires = schedule.between(utc(2026, 1, 1), utc(2026, 5, 1))

    assert [local(f, BERLIN).date() for f in fires] == [
        date(2026, 1, 9),
        date(2026, 2, 13),
        date(2026, 3, 13),
        date(2026, 4, 10),
    ]
    assert {local(f, BERLIN).time() for f in fires} == {time(9, 0)}
    # 09:00 is 08:00 UTC in winter and 07:00 UTC in summer.
    assert [f.at.hour for f in fires] == [8, 8, 8, 7]


def test_hash_can_pick_the_sunday_of_the_spring_forward_gap() -> None:
    # The fifth Sunday of March 2026 is the 29th, the Berlin transition day.
    fire = Schedule("30 2 * 3 0#5", BERLIN).next_after(utc(2026, 3, 1))

    assert (fire.at, fire.shifted) == (TRANSITION_AT[BERLIN, "spring"], "gap")


# -- the query methods -----------------------------------------------------------------


def test_next_after_is_strictly_after_the_given_instant() -> None:
    schedule = Schedule("0 * * * *", "UTC")

    assert schedule.next_after(utc(2026, 5, 1, 10)).at == utc(2026, 5, 1, 11)
    just_before = utc(2026, 5, 1, 10) - timedelta(microseconds=1)
    assert schedule.next_after(just_before).at == utc(2026, 5, 1, 10)


def test_next_after_on_the_first_occurrence_of_a_repeated_time_finds_the_second() -> None:
    schedule = Schedule("30 1 * * *", NEW_YORK, BOTH)

    fire = schedule.next_after(utc(2026, 11, 1, 5, 30))

    assert (fire.at, fire.shifted) == (utc(2026, 11, 1, 6, 30), "repeat")


def test_latest_at_or_before_includes_a_fire_time_at_the_moment_itself() -> None:
    schedule = Schedule("0 * * * *", "UTC")

    assert schedule.latest_at_or_before(utc(2026, 5, 1, 10)) == FireTime(
        utc(2026, 5, 1, 10), datetime(2026, 5, 1, 10)
    )
    latest = schedule.latest_at_or_before(utc(2026, 5, 1, 10) - timedelta(microseconds=1))
    assert latest is not None
    assert latest.at == utc(2026, 5, 1, 9)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (ONCE_NEXT_VALID, (utc(2026, 10, 25, 0, 30), None)),
        (BOTH, (utc(2026, 10, 25, 1, 30), "repeat")),
    ],
)
def test_latest_at_or_before_after_fall_back_follows_the_repeated_policy(
    policy: DstPolicy, expected: tuple[datetime, str | None]
) -> None:
    latest = Schedule("30 2 * * *", BERLIN, policy).latest_at_or_before(utc(2026, 10, 25, 1, 45))

    assert latest is not None
    assert (latest.at, latest.shifted) == expected


def test_latest_at_or_before_inside_the_day_after_a_skipped_gap_is_the_day_before() -> None:
    schedule = Schedule("30 2 * * *", BERLIN, SKIP)

    latest = schedule.latest_at_or_before(utc(2026, 3, 29, 12))

    assert latest is not None
    assert latest.at == utc(2026, 3, 28, 1, 30)


def test_latest_at_or_before_finds_a_gap_shifted_fire_time() -> None:
    schedule = Schedule("30 2 * * *", NEW_YORK)

    latest = schedule.latest_at_or_before(utc(2026, 3, 8, 12))

    assert latest is not None
    assert (latest.at, latest.shifted) == (TRANSITION_AT[NEW_YORK, "spring"], "gap")


def test_between_excludes_start_includes_end_and_stops_at_limit() -> None:
    schedule = Schedule("0 * * * *", "UTC")
    start, end = utc(2026, 5, 1, 10), utc(2026, 5, 1, 14)

    assert [f.at.hour for f in schedule.between(start, end)] == [11, 12, 13, 14]
    assert [f.at.hour for f in schedule.between(start, end, limit=2)] == [11, 12]
    assert schedule.between(start, end, limit=0) == []
    assert schedule.between(end, start) == []


# -- properties around transitions, checked from many start points ----------------------

PROPERTY_EXPRESSIONS = [
    "30 2 * * *",
    "30 1 * * *",
    "0 * * * *",
    "*/15 * * * *",
    "0,30 1-3 * * *",
    "45 2 * * *",
    "0 */2 * * *",
]
PROPERTY_POLICIES = [ONCE_NEXT_VALID, DstPolicy(RepeatedTime.BOTH, SkippedTime.SKIP)]


def _start_points(transition: datetime) -> list[datetime]:
    """Instants every 7 min 13 s (so they hit fire times, seconds and the transition off
    the grid) from 4 hours before to 4 hours after, plus the transition itself."""
    step = timedelta(minutes=7, seconds=13)
    first = transition - timedelta(hours=4)
    return [first + n * step for n in range(67)] + [transition, transition - timedelta(seconds=1)]


def _all_fire_instants(schedule: Schedule, start: datetime, end: datetime) -> list[datetime]:
    """Reference answer: every wall time croniter produces, mapped through ``instants``."""
    from croniter import croniter

    margin = timedelta(hours=6)
    walls = croniter(schedule.expr, start.astimezone(schedule.tz).replace(tzinfo=None) - margin)
    last = end.astimezone(schedule.tz).replace(tzinfo=None) + margin
    found: set[datetime] = set()
    while (wall := walls.get_next(datetime)) <= last:
        found.update(f.at for f in schedule.instants(wall))
    return sorted(found)


@pytest.mark.parametrize("policy", PROPERTY_POLICIES, ids=["once-next_valid", "both-skip"])
@pytest.mark.parametrize("transition", list(TRANSITION_AT), ids="-".join)
def test_next_after_and_latest_agree_with_every_wall_time_near_transitions(
    transition: tuple[str, str], policy: DstPolicy
) -> None:
    zone = transition[0]
    at = TRANSITION_AT[transition]
    for expr in PROPERTY_EXPRESSIONS:
        schedule = Schedule(expr, zone, policy)
        reference = _all_fire_instants(schedule, at - timedelta(days=2), at + timedelta(days=2))
        for start in _start_points(at):
            following = next(t for t in reference if t > start)
            preceding = [t for t in reference if t <= start][-1]
            assert schedule.next_after(start).at == following, (expr, start)
            latest = schedule.latest_at_or_before(start)
            assert latest is not None
            assert latest.at == preceding, (expr, start)


@pytest.mark.parametrize("policy", PROPERTY_POLICIES, ids=["once-next_valid", "both-skip"])
@pytest.mark.parametrize("transition", list(TRANSITION_AT), ids="-".join)
def test_between_starts_with_next_after_and_strictly_increases_near_transitions(
    transition: tuple[str, str], policy: DstPolicy
) -> None:
    zone = transition[0]
    window = timedelta(hours=30)
    for expr in PROPERTY_EXPRESSIONS:
        schedule = Schedule(expr, zone, policy)
        for start in _start_points(TRANSITION_AT[transition])[::6]:
            fires = schedule.between(start, start + window)
            assert fires, (expr, start)
            assert fires[0] == schedule.next_after(start), (expr, start)
            instants = [f.at for f in fires]
            assert all(a < b for a, b in pairwise(instants)), (expr, start)
            assert start < instants[0]
            assert instants[-1] <= start + window


# -- validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        (
            "61 * * * *",
            "schedule '61 * * * *': minute field '61' is invalid (expected 0-59,",
        ),
        ("* 24 * * *", "hour field '24' is invalid (expected 0-23,"),
        ("* * * * * 60", "second field '60' is invalid (expected 0-59,"),
        ("0 9 * * 5#6", "day of week field '5#6' is invalid"),
        ("* * *", "expected 5 fields (minute hour day-of-month month day-of-week) or 6"),
        ("@dayly", "schedule '@dayly': unknown alias (expected one of @annually, @daily,"),
        ("0 0 31 2 *", "schedule '0 0 31 2 *': never fires (no such date)"),
        ("", "expected a cron expression such as '0 2 * * *', got ''"),
    ],
)
def test_invalid_schedule_is_rejected_naming_the_bad_field(expr: str, message: str) -> None:
    with pytest.raises(InvalidScheduleError) as caught:
        validate_schedule(expr)

    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, RunwatchError)


@pytest.mark.parametrize(
    "expr", ["0 0 L * *", "0 9 * * 5#2", "* * * * * */10", "@weekly", "0 0 * * mon-fri"]
)
def test_valid_schedules_pass_validation(expr: str) -> None:
    validate_schedule(expr)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Europe/Berln", "unknown timezone 'Europe/Berln' (did you mean 'Europe/Berlin'?)"),
        ("Mars/Olympus_Mons", "unknown timezone 'Mars/Olympus_Mons'"),
        ("", "expected an IANA timezone such as 'Europe/Berlin', got ''"),
        (None, "expected an IANA timezone such as 'Europe/Berlin', got None"),
        ("../etc/passwd", "unknown timezone '../etc/passwd'"),
    ],
)
def test_invalid_timezone_is_rejected_with_a_suggestion(name: object, message: str) -> None:
    with pytest.raises(InvalidScheduleError) as caught:
        validate_timezone(name)

    assert str(caught.value).startswith(message)


def test_iana_timezones_pass_validation() -> None:
    for name in (BERLIN, NEW_YORK, "UTC", "Australia/Lord_Howe"):
        validate_timezone(name)
