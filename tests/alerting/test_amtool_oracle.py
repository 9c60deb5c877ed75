"""runwatch's route tree and matcher grammar against the real Alertmanager's ``amtool``.

Every route tree of ``route_trees`` routes 200 seeded label sets through both; every
matcher string of ``MATCHERS`` is accepted or rejected by both alike and, when accepted,
matches the same label values. Any disagreement fails with a minimal example.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml

from alerting.config import parse_alerting
from alerting.matchers import MatcherError, parse_matchers
from alerting.routing import Route
from tests.alerting.amtool import Amtool, check_many, label_args
from tests.alerting.route_trees import (
    TREES,
    alertmanager_config,
    label_sets,
    runwatch_config,
    split_by_tree,
)
from tests.e2e.cli import clean_env

LABEL_SETS = 200


def _runwatch_route(tree: Mapping[str, Any]) -> Route:
    return parse_alerting(runwatch_config(tree), source="oracle.yaml").route


def _minimal(labels: dict[str, str], disagree: Callable[[dict[str, str]], bool]) -> dict[str, str]:
    """Drop labels one at a time while the disagreement remains."""
    smaller = dict(labels)
    for name in sorted(labels):
        trial = {k: v for k, v in smaller.items() if k != name}
        if disagree(trial):
            smaller = trial
    return smaller


def test_every_route_tree_routes_generated_label_sets_as_amtool_does(tmp_path: Path) -> None:
    amtool = Amtool.write(tmp_path / "alertmanager.yml", alertmanager_config(TREES))
    sets = label_sets(LABEL_SETS)
    answers = amtool.route_many(sets)
    routes = {name: _runwatch_route(tree) for name, tree in TREES.items()}
    failures = []
    for name, route in routes.items():
        for labels, printed in zip(sets, answers, strict=True):
            expected = [r for tree, r in split_by_tree(printed) if tree == name]
            if route.receivers(labels) == expected:
                continue
            single = Amtool.write(
                tmp_path / f"{name}.yml", alertmanager_config({name: TREES[name]})
            )

            def disagree(
                trial: dict[str, str], route: Route = route, single: Amtool = single
            ) -> bool:
                theirs = [r for _, r in split_by_tree(single.route(trial))]
                return route.receivers(trial) != theirs

            small = _minimal(labels, disagree)
            theirs = [r for _, r in split_by_tree(single.route(small))]
            failures.append(
                f"tree {name!r}, labels {small!r}: runwatch {route.receivers(small)}, "
                f"amtool {theirs}"
            )
            break
    assert not failures, "\n".join(failures)
    assert len(sets) * len(TREES) >= 2000


def test_runwatch_alerts_routes_test_prints_what_amtool_prints(tmp_path: Path) -> None:
    names = ("continue", "spaces_and_commas", "utf8")
    trees = {name: TREES[name] for name in names}
    amtool = Amtool.write(tmp_path / "alertmanager.yml", alertmanager_config(trees))
    sets = label_sets(4, seed=7)
    answers = amtool.route_many(sets)
    for name in names:
        config = tmp_path / f"{name}.yaml"
        config.write_text(yaml.safe_dump({"alerting": runwatch_config(TREES[name])}))
        command = [sys.executable, "-m", "runner.cli.main", "alerts", "routes", "test"]
        for labels, printed in zip(sets, answers, strict=True):
            done = subprocess.run(
                [*command, "--config", str(config), *label_args(labels)],
                capture_output=True,
                text=True,
                env=clean_env(tmp_path / "home"),
                timeout=60,
                check=False,
            )
            assert done.returncode == 0, done.stderr
            expected = [r for tree, r in split_by_tree(printed) if tree == name]
            assert done.stdout.splitlines() == expected, (name, labels)


MATCHERS = (
    # plain, quoted, spacing
    "a=b",
    'a="b"',
    "a = b",
    '  a  =  "b"  ',
    "a=",
    'a=""',
    "a!=b",
    "a=~b",
    "a!~b",
    'a=~"b.*"',
    "a=b ",
    "a=\t b",
    'a="  b  "',
    # comma lists and braces
    'env="prod",severity="critical"',
    "env=prod,severity=critical",
    "env=prod, severity=critical",
    '{env="prod"}',
    '{env="prod", severity!="info", }',
    "{a=b}",
    "{a=b",
    "a=b}",
    "{}",
    "",
    "a=b,",
    "a=b, ",
    ",a=b",
    "a=b,,c=d",
    "a=b,c",
    "a=b c",
    'a="b,c"',
    'a="b, c",d=e',
    "{{a=b}}",
    " {a=b}",
    # escapes
    r'a="b\"c"',
    r'a="b\\c"',
    r'a="b\nc"',
    r'a="b\tc"',
    r"a=b\c",
    r"a=b\\c",
    r'a="b\\"',
    r'a="b\"',
    "a=b\\",
    r'a="\\\\"',
    'a="b\nc"',
    # quotes in the wrong place
    'a="b',
    'a=b"',
    'a="b"c',
    'a=b"c',
    'a="b""c"',
    "a='b'",
    # names
    "a:b=c",
    ":a=b",
    "_a=b",
    "a_1=b",
    "1a=b",
    "a-b=c",
    "a.b=c",
    "é=b",
    "a b=c",
    "=b",
    "a",
    "a==b",
    "a=!b",
    "a!b",
    "a~=b",
    "a=~~b",
    "a!==b",
    "a=~=b",
    # regexes, RE2 and anchoring
    r'a=~"\w+"',
    r'a=~"[[:alpha:]]+"',
    r'a=~"\pL+"',
    r'a=~"\p{Greek}+"',
    r'a=~"b\z"',
    r'a=~"b\Z"',
    r'a=~"(?=b)b"',
    r'a=~"(?!c)b"',
    r'a=~"(?<=a)b"',
    r'a=~"(b)\1"',
    r'a=~"(?i)PROD"',
    r'a=~"(?s).+"',
    r'a=~".+"',
    r'a=~".*"',
    r'a!~".+"',
    'a=~"b|c"',
    "a=~b|c",
    'a=~"ml-.*"',
    r'a=~"etl\\.nightly"',
    r'a=~"etl\.nightly"',
    'a=~"("',
    'a=~"b)|(c"',
    'a=~")"',
    'a=~"[a-"',
    'a=~"a{2,}"',
    'a=~"a{1001}"',
    'a=~"^b$"',
    r'a=~"\d{3}"',
    r'a=~"[^b]"',
    r'a=~"\x{e9}"',
    'a=~"é+"',
    r'a=~"\C"',
    'a=~"(?P<n>b)"',
    'a=~"b*?"',
    'a=~"(?U)b+"',
    r'a=~"\Qb.\E"',
    r'a=~"\bb"',
    r'a=~"[\d\s]+"',
    r'a=~"\pN+"',
    'a=~"\\\\"',
    # UTF-8 values
    "a=日本",
    'a="équipe"',
    "a!=Zürich",
)

EXTENSIONS = ('"a"=b', '"é q"=b', '{"service name"="db", a=b}', '"a\\"b"=c')
"""Quoted UTF-8 label names, which Alertmanager 0.27's parser reads and 0.25's rejects."""

VALUES = (
    "",
    "b",
    "B",
    "bb",
    "b.*",
    "c",
    "b c",
    "  b  ",
    "b,c",
    'b"c',
    "b\\c",
    "b\\\\c",
    "b\nc",
    "b\\nc",
    "b\tc",
    "prod",
    "PROD",
    "équipe",
    "data",
    "Zürich",
    "日本",
    "αβγ",
    "ml-team",
    "xml-team",
    "etl.nightly",
    "etlxnightly",
    "123",
    "é",
    "aa",
    "\\",
    "b!",
)


def _matcher_config(matchers: list[str]) -> dict[str, Any]:
    routes = [
        {"receiver": f"m{i}", "matchers": [m], "continue": True} for i, m in enumerate(matchers)
    ]
    receivers = [{"name": "none"}] + [{"name": f"m{i}"} for i in range(len(matchers))]
    return {"route": {"receiver": "none", "routes": routes}, "receivers": receivers}


def _runwatch_parses(text: str) -> bool:
    try:
        parse_matchers(text)
    except MatcherError:
        return False
    return True


def test_tricky_matchers_are_accepted_and_rejected_as_amtool_does(tmp_path: Path) -> None:
    configs = [
        Amtool.write(tmp_path / f"m{i}.yml", _matcher_config([m])) for i, m in enumerate(MATCHERS)
    ]
    verdicts = check_many(configs)
    disagreements = [
        f"{text!r}: amtool {'accepts' if ok else 'rejects'} ({said.strip()[-160:]}), "
        f"runwatch {'accepts' if _runwatch_parses(text) else 'rejects'}"
        for text, (ok, said) in zip(MATCHERS, verdicts, strict=True)
        if ok != _runwatch_parses(text)
    ]
    assert not disagreements, "\n".join(disagreements)
    assert len(MATCHERS) >= 100
    accepted = sum(ok for ok, _ in verdicts)
    assert accepted >= 50
    assert len(MATCHERS) - accepted >= 25


def test_accepted_matchers_match_the_same_label_values_as_in_amtool(tmp_path: Path) -> None:
    accepted = [m for m in MATCHERS if _runwatch_parses(m)]
    amtool = Amtool.write(tmp_path / "matchers.yml", _matcher_config(accepted))
    names = sorted({m.name for text in accepted for m in parse_matchers(text)})
    sets = [{}] + [{name: value for name in names} for value in VALUES]
    answers = amtool.route_many(sets)
    failures = []
    for i, text in enumerate(accepted):
        matchers = parse_matchers(text)
        for labels, printed in zip(sets, answers, strict=True):
            theirs = f"m{i}" in printed
            ours = all(m.matches(labels) for m in matchers)
            if theirs != ours:
                value = next(iter(labels.values()), None)
                failures.append(f"{text!r} on value {value!r}: amtool {theirs}, runwatch {ours}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("text", EXTENSIONS)
def test_quoted_utf8_label_names_are_a_deliberate_extension_over_amtool_0_25(
    tmp_path: Path, text: str
) -> None:
    ((ok, _),) = check_many([Amtool.write(tmp_path / "x.yml", _matcher_config([text]))])
    assert not ok
    assert _runwatch_parses(text)
