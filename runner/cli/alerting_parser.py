"""The alerting subcommands' grammar: `alerts [replay|routes]`, `silence add|list|expire`,
`notify-test`. Each parser sets ``handler`` to "module:function" under
``runner.cli.commands``."""

from __future__ import annotations

import argparse
from typing import Any


def add_alerting_parsers(
    sub: Any, common: argparse.ArgumentParser, fmt: argparse.ArgumentParser
) -> None:
    """Register the alerting subcommands on the top-level subparsers ``sub``."""
    alerts = sub.add_parser("alerts", parents=[common, fmt], help="list alerts")
    alerts.add_argument("--state", choices=["firing", "resolved"])
    alerts.set_defaults(handler="alerts:alerts_list")
    alerts_sub = alerts.add_subparsers(dest="alerts_command", parser_class=type(alerts))
    replay = alerts_sub.add_parser(
        "replay",
        parents=[common, fmt],
        help="evaluate a rule set against stored history; prints, never sends",
    )
    replay.add_argument(
        "--rules",
        required=True,
        metavar="FILE",
        help="YAML: a list of rules, or an alerting mapping",
    )
    replay.add_argument("--since", default="7d", metavar="DURATION", help="default: 7d")
    replay.set_defaults(handler="alerts:alerts_replay")
    _add_routes_parsers(alerts_sub, common, fmt)

    silence = sub.add_parser("silence", help="silence alerts that match")
    silence_sub = silence.add_subparsers(
        dest="silence_command", required=True, parser_class=type(silence)
    )
    add = silence_sub.add_parser("add", parents=[common, fmt], help="add a silence")
    add.add_argument(
        "--matcher",
        action="append",
        required=True,
        metavar="MATCHER",
        help="e.g. 'job=nightly-etl' or 'severity=~warning|info' (repeatable)",
    )
    add.add_argument("--duration", required=True, metavar="DURATION", help="e.g. 2h")
    add.add_argument("--comment", required=True)
    add.add_argument("--author", help="default: $USER")
    add.set_defaults(handler="alerts:silence_add")
    listing = silence_sub.add_parser("list", parents=[common, fmt], help="list silences")
    listing.add_argument("--all", action="store_true", help="include expired silences")
    listing.set_defaults(handler="alerts:silence_list")
    expire = silence_sub.add_parser("expire", parents=[common], help="end a silence now")
    expire.add_argument("silence_id", type=int, metavar="ID")
    expire.set_defaults(handler="alerts:silence_expire")

    test = sub.add_parser(
        "notify-test", parents=[common], help="send a test notification to a receiver"
    )
    test.add_argument("receiver")
    test.set_defaults(handler="alerts:notify_test")


def _add_routes_parsers(
    alerts_sub: Any, common: argparse.ArgumentParser, fmt: argparse.ArgumentParser
) -> None:
    """`alerts routes test [--tree] label=value …` and `alerts routes show`, as amtool's."""
    routes = alerts_sub.add_parser("routes", help="test or show the route tree")
    routes_sub = routes.add_subparsers(
        dest="routes_command", required=True, parser_class=type(routes)
    )
    test = routes_sub.add_parser(
        "test",
        parents=[common, fmt],
        help="print the receivers an alert with these labels reaches, one per line",
    )
    test.add_argument("labels", nargs="*", metavar="LABEL=VALUE")
    test.add_argument("--tree", action="store_true", help="print the route tree instead")
    test.set_defaults(handler="routes:routes_test")
    show = routes_sub.add_parser("show", parents=[common], help="print the route tree")
    show.set_defaults(handler="routes:routes_show")
