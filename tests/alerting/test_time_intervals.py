"""Alertmanager's ``time_intervals`` and the routes they mute or activate."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from alerting.config import parse_alerting
from alerting.evaluation import Evaluator
from alerting.job_facts import JobInfo
from alerting.timeintervals import NamedTimeInterval
from runner.errors import DefinitionError
from runner.events import RunFailed

UTC = dt.UTC


def _intervals(*entries: dict[str, Any], top: str = "time_intervals") -> NamedTimeInterval:
    raw = {
        "receivers": {"team": {"memory": {}}},
        top: [{"name": "x", "time_intervals": list(entries)}],
        "route": {"receiver": "team", "routes": [{"mute_time_intervals": ["x"]}]},
    }
    (interval,) = parse_alerting(raw).route.routes[0].mute_time_intervals
    return interval


def test_times_and_weekdays_hold_in_the_given_location() -> None:
    office = _intervals(
        {
            "times": [{"start_time": "09:00", "end_time": "17:30"}],
            "weekdays": ["monday:friday"],
            "location": "Europe/Berlin",
        }
    )
    # 2030-01-07 is a Monday; Berlin is UTC+1 in January
    assert office.contains(dt.datetime(2030, 1, 7, 8, 0, tzinfo=UTC))
    assert not office.contains(dt.datetime(2030, 1, 7, 7, 59, tzinfo=UTC))
    assert not office.contains(dt.datetime(2030, 1, 7, 16, 30, tzinfo=UTC))  # end excluded
    assert not office.contains(dt.datetime(2030, 1, 12, 10, 0, tzinfo=UTC))  # Saturday


def test_negative_days_of_month_count_from_the_end_of_the_month() -> None:
    last_days = _intervals({"days_of_month": ["-3:-1"], "months": ["february"]})
    assert last_days.contains(dt.datetime(2030, 2, 26, tzinfo=UTC))
    assert not last_days.contains(dt.datetime(2030, 2, 25, tzinfo=UTC))
    assert last_days.contains(dt.datetime(2032, 2, 27, tzinfo=UTC))  # leap year: 27-29
    assert not last_days.contains(dt.datetime(2032, 2, 26, tzinfo=UTC))
    assert not last_days.contains(dt.datetime(2030, 3, 30, tzinfo=UTC))


def test_any_entry_of_a_named_interval_may_contain_the_moment() -> None:
    weekend_or_2031 = _intervals(
        {"weekdays": ["saturday", "sunday"]},
        {"years": ["2031:2032"], "months": ["1:3", "december"]},
        top="mute_time_intervals",
    )
    assert weekend_or_2031.contains(dt.datetime(2030, 1, 13, 12, tzinfo=UTC))  # Sunday
    assert weekend_or_2031.contains(dt.datetime(2031, 12, 3, tzinfo=UTC))
    assert not weekend_or_2031.contains(dt.datetime(2031, 6, 3, tzinfo=UTC))
    assert not weekend_or_2031.contains(dt.datetime(2030, 1, 14, tzinfo=UTC))


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            {"times": [{"start_time": "9:00", "end_time": "17:00"}]},
            "[0].time_intervals[0].times[0].start_time: '9:00': expected a time of day HH:MM",
        ),
        (
            {"times": [{"start_time": "17:00", "end_time": "09:00"}]},
            "[0].time_intervals[0].times[0]: start_time must be before end_time",
        ),
        (
            {"weekdays": ["mondey"]},
            "[0].time_intervals[0].weekdays[0]: 'mondey': 'mondey' is not a day of the week",
        ),
        (
            {"weekdays": ["friday:monday"]},
            "[0].time_intervals[0].weekdays[0]: 'friday:monday': the range ends before it begins",
        ),
        (
            {"days_of_month": ["0:5"]},
            "[0].time_intervals[0].days_of_month[0]: '0:5': 0 is out of range -31..31",
        ),
        (
            {"months": ["13"]},
            "[0].time_intervals[0].months[0]: '13': 13 is out of range 1..12",
        ),
        (
            {"location": "Mars/Olympus"},
            "[0].time_intervals[0].location: 'Mars/Olympus' is not an IANA time zone",
        ),
        ({"hours": ["1"]}, "[0].time_intervals[0].hours: unknown key"),
    ],
)
def test_time_interval_mistakes_name_the_key(entry: dict[str, Any], message: str) -> None:
    with pytest.raises(DefinitionError) as error:
        _intervals(entry)
    assert str(error.value).startswith(f"runwatch.yaml: alerting.time_intervals{message}")


@pytest.mark.parametrize(
    ("route", "message"),
    [
        (
            {"receiver": "team", "routes": [{"active_time_intervals": ["nights"]}]},
            "alerting.route.routes[0].active_time_intervals[0]: undefined time interval "
            "'nights' (time_intervals: x)",
        ),
        (
            {"receiver": "team", "mute_time_intervals": ["x"]},
            "alerting.route.mute_time_intervals: not allowed on the root route",
        ),
    ],
)
def test_routes_refer_only_to_defined_intervals_and_not_from_the_root(
    route: dict[str, Any], message: str
) -> None:
    raw = {
        "receivers": {"team": {"memory": {}}},
        "time_intervals": [{"name": "x", "time_intervals": [{"weekdays": ["monday"]}]}],
        "route": route,
    }
    with pytest.raises(DefinitionError) as error:
        parse_alerting(raw)
    assert str(error.value).startswith(f"runwatch.yaml: {message}")


def _evaluator(child: dict[str, Any]) -> Evaluator:
    raw = {
        "receivers": {"team": {"memory": {}}, "night": {"memory": {}}},
        "time_intervals": [
            {
                "name": "office-hours",
                "time_intervals": [{"times": [{"start_time": "08:00", "end_time": "18:00"}]}],
            }
        ],
        "route": {
            "receiver": "team",
            "group_wait": "0s",
            "group_interval": "5m",
            "routes": [{"receiver": "night", "continue": True, **child}, {"receiver": "team"}],
        },
        "rules": [{"alert": "JobFailed", "when": "run_failed"}],
    }
    return Evaluator(parse_alerting(raw), infos={"etl": JobInfo("data")})


def _receivers_at(evaluator: Evaluator, now: dt.datetime) -> list[str]:
    return [n.receiver for n in evaluator.settle(now)]


def test_a_muted_route_holds_its_notification_until_the_interval_ends() -> None:
    evaluator = _evaluator({"mute_time_intervals": ["office-hours"]})
    failed_at = dt.datetime(2030, 1, 7, 17, 50, tzinfo=UTC)
    evaluator.advance([RunFailed(at=failed_at, job="etl", run_id=1)])
    assert _receivers_at(evaluator, failed_at) == ["team"]  # the unmuted route still pages
    assert _receivers_at(evaluator, failed_at + dt.timedelta(minutes=5)) == []
    assert _receivers_at(evaluator, failed_at + dt.timedelta(minutes=10)) == ["night"]


def test_an_active_interval_lets_a_route_send_only_inside_it() -> None:
    evaluator = _evaluator({"active_time_intervals": ["office-hours"]})
    failed_at = dt.datetime(2030, 1, 7, 7, 56, tzinfo=UTC)
    evaluator.advance([RunFailed(at=failed_at, job="etl", run_id=1)])
    assert _receivers_at(evaluator, failed_at) == ["team"]
    assert _receivers_at(evaluator, failed_at + dt.timedelta(minutes=5)) == ["night"]


def test_location_local_means_the_machines_own_time_zone() -> None:
    moment = dt.datetime(2030, 1, 7, 12, 0, tzinfo=UTC)
    hour = moment.astimezone().hour
    window = {"start_time": f"{hour:02d}:00", "end_time": f"{hour:02d}:59"}
    assert _intervals({"times": [window], "location": "Local"}).contains(moment)
    assert not _intervals({"times": [window], "location": "Local"}).contains(
        moment + dt.timedelta(hours=1)
    )
