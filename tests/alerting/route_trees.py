"""Route trees in Alertmanager's format, and the label vocabulary that exercises them, for
the amtool oracle tests. Each tree is a route mapping valid both in an Alertmanager config
and in runwatch.yaml's ``alerting.route``."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from typing import Any

TREES: dict[str, dict[str, Any]] = {
    "nested": {
        "receiver": "default",
        "routes": [
            {
                "receiver": "data",
                "matchers": ['team="data"'],
                "routes": [{"receiver": "data-page", "matchers": ["severity=critical"]}],
            },
            {"receiver": "ml", "matchers": ['team=~"ml-.*"']},
        ],
    },
    "continue": {
        "receiver": "default",
        "routes": [
            {"receiver": "pager", "matchers": ['severity="critical"'], "continue": True},
            {"receiver": "data", "matchers": ["team=data"]},
            {
                "receiver": "ml",
                "matchers": ["team=ml"],
                "continue": True,
                "routes": [{"receiver": "ml-prod", "matchers": ["env=prod"]}],
            },
            {"receiver": "envs", "matchers": ['env=~"prod|staging"']},
        ],
    },
    "inherited": {
        "receiver": "default",
        "routes": [
            {
                "receiver": "data",
                "matchers": ["team=data"],
                "routes": [
                    {"matchers": ["severity=critical"]},
                    {
                        "receiver": "prod",
                        "matchers": ["env=prod"],
                        "routes": [{"matchers": ["service=db"]}, {"matchers": ["job=backup"]}],
                    },
                ],
            },
            {"matchers": ["env=dev"], "continue": True},
            {"receiver": "sev", "matchers": ["severity=~error|warning"]},
        ],
    },
    "group_by_all": {
        "receiver": "default",
        "group_by": ["..."],
        "routes": [
            {"receiver": "jobs", "group_by": ["job"], "matchers": ['job=~".+"'], "continue": True},
            {"receiver": "every", "group_by": ["..."], "matchers": ["severity!=info"]},
        ],
    },
    "regex": {
        "receiver": "default",
        "routes": [
            {"receiver": "etl", "matchers": ['job=~"etl\\\\.nightly"']},
            {"receiver": "alpha", "matchers": ['instance=~"[[:alpha:]]+"'], "continue": True},
            {"receiver": "words", "matchers": ['team=~"\\\\w+"'], "continue": True},
            {"receiver": "letters", "matchers": ['region=~"\\\\pL+"'], "continue": True},
            {"receiver": "not-db", "matchers": ['service!~"db|cache"', 'service=~".+"']},
        ],
    },
    "utf8": {
        "receiver": "default",
        "routes": [
            {"receiver": "equipe", "matchers": ['team="équipe"']},
            {"receiver": "e-accent", "matchers": ['team=~"é.*"'], "continue": True},
            {"receiver": "nihon", "matchers": ["service=日本"], "continue": True},
            {"receiver": "not-zurich", "matchers": ['region!="Zürich"', 'region=~".+"']},
        ],
    },
    "spaces_and_commas": {
        "receiver": "default",
        "routes": [
            {"receiver": "spaced", "matchers": ['service="a b",env!="x"']},
            {"receiver": "comma", "matchers": ['{env="prod,eu"}'], "continue": True},
            {"receiver": "list", "matchers": ['job=~"x, y|z"'], "continue": True},
            {"receiver": "trailing", "matchers": ['service="db "']},
        ],
    },
    "match_and_match_re": {
        "receiver": "default",
        "routes": [
            {
                "receiver": "data",
                "match": {"team": "data"},
                "match_re": {"service": "db|cache"},
            },
            {
                "receiver": "mixed",
                "match_re": {"env": "prod|staging"},
                "matchers": ["severity!~info|warning"],
                "continue": True,
            },
            {"receiver": "sev", "match": {"severity": "critical"}},
        ],
    },
    "deep": {
        "receiver": "l0",
        "routes": [
            {
                "receiver": "l1",
                "matchers": ["team=~data|ml"],
                "routes": [
                    {
                        "receiver": "l2",
                        "matchers": ["env!=dev"],
                        "continue": True,
                        "routes": [
                            {"receiver": "l3", "matchers": ["severity=critical"]},
                            {"receiver": "l3b", "matchers": ['service=~"db.*"']},
                        ],
                    },
                    {"receiver": "l2b", "matchers": ['job=~".*"']},
                ],
            },
            {"receiver": "catch-all", "matchers": []},
        ],
    },
    "negative_and_empty": {
        "receiver": "default",
        "routes": [
            {"receiver": "no-env", "matchers": ['env=""'], "continue": True},
            {"receiver": "has-team", "matchers": ['team!=""'], "continue": True},
            {"receiver": "quiet", "matchers": ['severity!~"critical|error"']},
        ],
    },
    "colon_names": {
        "receiver": "default",
        "routes": [
            {"receiver": "batch", "matchers": ['job:type="batch"']},
            {"receiver": "stream", "matchers": ["job:type=~str.*", "team!~ml.*"]},
        ],
    },
}

VALUES: dict[str, tuple[str, ...]] = {
    "team": ("data", "ml", "ml-team", "xml-team", "équipe", "Data", "é", ""),
    "severity": ("critical", "error", "warning", "info"),
    "env": ("prod", "staging", "dev", "prod,eu", "x", ""),
    "service": ("db", "cache", "a b", "日本", "api", "db ", "dbx"),
    "job": ("etl.nightly", "etlxnightly", "backup", "x, y", "z", ""),
    "instance": ("data", "data1", "ÿ", "abc"),
    "region": ("Zürich", "eu", "eu-west", "日本"),
    "job:type": ("batch", "stream", "streaming"),
}


def label_sets(count: int, seed: int = 13) -> list[dict[str, str]]:
    """``count`` label sets drawn from ``VALUES`` (each label present with p=0.6)."""
    rng = random.Random(seed)
    found = []
    for _ in range(count):
        labels = {name: rng.choice(pool) for name, pool in VALUES.items() if rng.random() < 0.6}
        found.append(labels)
    return found


def receivers_of(tree: Mapping[str, Any]) -> set[str]:
    """Every receiver named in ``tree``."""
    found = {tree["receiver"]} if "receiver" in tree else set()
    for child in tree.get("routes", ()):
        found |= receivers_of(child)
    return found


def renamed(tree: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """``tree`` with every receiver name prefixed."""
    copy = dict(tree)
    if "receiver" in copy:
        copy["receiver"] = prefix + copy["receiver"]
    copy["routes"] = [renamed(child, prefix) for child in tree.get("routes", ())]
    return copy


def alertmanager_config(trees: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """One Alertmanager config routing through every tree at once.

    Each tree hangs under the root as a ``continue: true`` route without matchers, its
    receivers prefixed by its name: so one ``amtool`` call routes a label set through all
    of them, and the receivers it prints split back by prefix, in order.
    """
    routes = []
    names = {"root"}
    for name, tree in trees.items():
        sub = renamed(tree, f"{name}/")
        routes.append({**sub, "continue": True})
        names |= receivers_of(sub)
    return {
        "route": {"receiver": "root", "routes": routes},
        "receivers": [{"name": n} for n in sorted(names)],
    }


def split_by_tree(receivers: list[str]) -> Iterator[tuple[str, str]]:
    """(tree, receiver) for each receiver amtool printed for the combined config."""
    for receiver in receivers:
        tree, _, name = receiver.partition("/")
        yield tree, name


def runwatch_config(tree: Mapping[str, Any]) -> dict[str, Any]:
    """An ``alerting:`` mapping with ``tree`` as its route and memory receivers."""
    return {
        "receivers": {name: {"memory": {}} for name in sorted(receivers_of(tree))},
        "route": dict(tree),
    }
