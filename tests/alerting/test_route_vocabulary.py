"""Alertmanager's route vocabulary in runwatch.yaml: match/match_re, group_by ['...'],
and what Alertmanager rejects, rejected naming the file and key."""

from __future__ import annotations

from typing import Any

import pytest

from alerting.config import parse_alerting
from alerting.routing import Route
from runner.errors import DefinitionError


def _route(route: dict[str, Any]) -> Route:
    receivers = {name: {"memory": {}} for name in ("team", "oncall", "ml")}
    return parse_alerting({"receivers": receivers, "route": route}).route


def test_match_and_match_re_are_anded_with_matchers_and_match_re_is_anchored() -> None:
    route = _route(
        {
            "receiver": "team",
            "routes": [
                {
                    "receiver": "oncall",
                    "match": {"severity": "critical"},
                    "match_re": {"service": "db|cache"},
                    "matchers": ["env!=dev"],
                }
            ],
        }
    )
    assert route.receivers({"severity": "critical", "service": "db"}) == ["oncall"]
    assert route.receivers({"severity": "critical", "service": "dbx"}) == ["team"]
    assert route.receivers({"severity": "critical", "service": "db", "env": "dev"}) == ["team"]


def test_a_child_without_receiver_inherits_and_the_parent_takes_only_unmatched_alerts() -> None:
    route = _route(
        {
            "receiver": "team",
            "routes": [
                {
                    "receiver": "ml",
                    "matchers": ["team=ml"],
                    "continue": True,
                    "routes": [{"matchers": ["severity=critical"]}],
                },
                {"receiver": "oncall", "matchers": ['severity=~"critical|error"']},
            ],
        }
    )
    assert route.receivers({"team": "ml", "severity": "critical"}) == ["ml", "oncall"]
    assert route.receivers({"team": "ml", "severity": "info"}) == ["ml"]
    assert route.receivers({"team": "data"}) == ["team"]


def test_group_by_all_labels_is_accepted_alone() -> None:
    assert _route({"receiver": "team", "group_by": ["..."]}).group_by == ("...",)


@pytest.mark.parametrize(
    ("route", "message"),
    [
        (
            {"receiver": "team", "group_by": ["job", "..."]},
            "alerting.route.group_by: '...' (group by every label) cannot be combined with "
            "label names",
        ),
        (
            {"receiver": "team", "group_by": ["job", "job"]},
            "alerting.route.group_by[1]: duplicate label 'job'",
        ),
        (
            {"receiver": "team", "match": {"team": "data"}},
            "alerting.route.match: not allowed on the root route (it takes every alert)",
        ),
        (
            {"receiver": "team", "routes": [{"match_re": {"team": "ml-("}}]},
            "alerting.route.routes[0].match_re.team: invalid RE2 regular expression 'ml-(': "
            "missing ): ml-(",
        ),
        (
            {"receiver": "team", "routes": [{"match": {"team:x": "data"}}]},
            "alerting.route.routes[0].match.team:x: 'team:x' is not a label name",
        ),
        (
            {"receiver": "team", "routes": [{"matchers": ['env="prod', "team=data"]}]},
            "alerting.route.routes[0].matchers[0]: bad matcher 'env=\"prod': the value '\"prod' "
            "lacks its closing double quote",
        ),
        (
            {"receiver": "team", "routes": [{"matchers": ["env=prod,eu"]}]},
            "alerting.route.routes[0].matchers[0]: in 'env=prod,eu': bad matcher 'eu'",
        ),
    ],
)
def test_route_mistakes_alertmanager_rejects_name_the_key(
    route: dict[str, Any], message: str
) -> None:
    with pytest.raises(DefinitionError) as error:
        _route(route)
    assert str(error.value).startswith(f"runwatch.yaml: {message}")


def test_inhibit_rules_take_the_deprecated_source_match_and_target_match_re() -> None:
    raw = {
        "receivers": {"team": {"memory": {}}},
        "inhibit_rules": [
            {
                "source_match": {"severity": "critical"},
                "target_match_re": {"severity": "warning|info"},
                "equal": ["job"],
            }
        ],
    }
    (rule,) = parse_alerting(raw).inhibit_rules
    assert rule.inhibits({"severity": "critical", "job": "a"}, {"severity": "info", "job": "a"})
    assert not rule.inhibits(
        {"severity": "critical", "job": "a"}, {"severity": "error", "job": "a"}
    )
