"""runwatch's ``time_intervals`` validation against the real Alertmanager's
``amtool check-config``: each entry is accepted or rejected by both alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alerting.config import parse_alerting
from runner.errors import DefinitionError
from tests.alerting.amtool import Amtool, check_many

ENTRIES: tuple[dict[str, Any], ...] = (
    {"times": [{"start_time": "00:00", "end_time": "24:00"}]},
    {
        "times": [
            {"start_time": "09:00", "end_time": "17:30"},
            {"start_time": "20:00", "end_time": "21:00"},
        ]
    },
    {"times": [{"start_time": "17:00", "end_time": "09:00"}]},
    {"times": [{"start_time": "09:00", "end_time": "09:00"}]},
    {"times": [{"start_time": "9:00", "end_time": "17:00"}]},
    {"times": [{"start_time": "09:00", "end_time": "24:01"}]},
    {"times": [{"start_time": "09:00"}]},
    {"weekdays": ["monday:friday", "sunday"]},
    {"weekdays": ["Monday", "SATURDAY:sunday"]},
    {"weekdays": ["friday:monday"]},
    {"weekdays": ["funday"]},
    {"weekdays": ["1"]},
    {"days_of_month": ["1:5", "-3:-1", "15"]},
    {"days_of_month": ["-31:31"]},
    {"days_of_month": ["5:-1"]},
    {"days_of_month": ["0"]},
    {"days_of_month": ["32"]},
    {"days_of_month": ["-32:-1"]},
    {"days_of_month": ["10:5"]},
    {"days_of_month": ["-1:-5"]},
    {"months": ["january:march", "12", "May"]},
    {"months": ["december:january"]},
    {"months": ["jan"]},
    {"years": ["2020:2030", "2040"]},
    {"years": ["2030:2020"]},
    {"location": "Europe/Berlin"},
    {"location": "Nowhere/Else"},
    {"location": "Local"},
    {"location": "UTC"},
    {"hours": ["1"]},
)


STRICTER = ({"months": ["13"]}, {"months": ["0:2"]})
"""Accepted by Alertmanager 0.25 (it does not range-check month numbers), rejected here."""


def _alertmanager(entry: dict[str, Any]) -> dict[str, Any]:
    return {
        "time_intervals": [{"name": "x", "time_intervals": [entry]}],
        "route": {"receiver": "r", "routes": [{"receiver": "r", "mute_time_intervals": ["x"]}]},
        "receivers": [{"name": "r"}],
    }


def _runwatch_accepts(entry: dict[str, Any]) -> bool:
    raw = _alertmanager(entry)
    raw["receivers"] = {"r": {"memory": {}}}
    try:
        parse_alerting(raw)
    except DefinitionError:
        return False
    return True


def test_time_intervals_are_accepted_and_rejected_as_amtool_does(tmp_path: Path) -> None:
    configs = [
        Amtool.write(tmp_path / f"t{i}.yml", _alertmanager(e)) for i, e in enumerate(ENTRIES)
    ]
    verdicts = check_many(configs)
    disagreements = [
        f"{entry!r}: amtool {'accepts' if ok else 'rejects'} ({said.strip()[-120:]}), "
        f"runwatch {'accepts' if _runwatch_accepts(entry) else 'rejects'}"
        for entry, (ok, said) in zip(ENTRIES, verdicts, strict=True)
        if ok != _runwatch_accepts(entry)
    ]
    assert not disagreements, "\n".join(disagreements)


def test_month_numbers_out_of_range_are_rejected_where_amtool_accepts_them(
    tmp_path: Path,
) -> None:
    configs = [
        Amtool.write(tmp_path / f"s{i}.yml", _alertmanager(e)) for i, e in enumerate(STRICTER)
    ]
    assert all(ok for ok, _ in check_many(configs))
    assert not any(_runwatch_accepts(entry) for entry in STRICTER)
