"""`alerts routes test` and `alerts routes show`: amtool's `config routes` for runwatch.yaml."""

from __future__ import annotations

from typing import TYPE_CHECKING

from runner.cli.commands.alerts import _config
from runner.cli.context import Context
from runner.cli.output import emit_json
from runner.errors import UsageError

if TYPE_CHECKING:
    from alerting.routing import Route


def label_set(arguments: list[str]) -> dict[str, str]:
    """``label=value`` arguments as labels, read as amtool reads them (UsageError)."""
    from alerting.matchers import MatcherError, MatchOp, parse_matcher

    labels: dict[str, str] = {}
    for text in arguments:
        try:
            matcher = parse_matcher(text)
        except MatcherError as exc:
            raise UsageError(f"label {text!r}: {exc}") from None
        if matcher.op is not MatchOp.EQUAL:
            raise UsageError(f"label {text!r}: expected label=value, not {matcher.op.value}")
        labels[matcher.name] = matcher.value
    return labels


def routes_test(ctx: Context) -> int:
    """Print the receivers an alert with the given labels reaches, one per line."""
    route = _config(ctx).route
    if ctx.args.tree:
        print_tree(route)
        return 0
    receivers = route.receivers(label_set(ctx.args.labels))
    if ctx.args.format == "json":
        emit_json(receivers)
    else:
        print("\n".join(receivers))
    return 0


def routes_show(ctx: Context) -> int:
    """Print the route tree."""
    print_tree(_config(ctx).route)
    return 0


def print_tree(root: Route) -> None:
    """The route tree drawn as amtool's ``config routes show`` draws it."""
    print("Routing tree:\n.")
    _print_node(root, "", last=True)


def _print_node(route: Route, indent: str, *, last: bool) -> None:
    name = (
        "{" + ",".join(str(m) for m in route.matchers) + "}" if route.matchers else "default-route"
    )
    parts = [name]
    if route.continue_:
        parts.append("continue: true")
    parts.append(f"receiver: {route.receiver}")
    for key, intervals in (
        ("mute_time_intervals", route.mute_time_intervals),
        ("active_time_intervals", route.active_time_intervals),
    ):
        if intervals:
            parts.append(f"{key}: {', '.join(i.name for i in intervals)}")
    print(f"{indent}{'└── ' if last else '├── '}{'  '.join(parts)}")
    below = indent + ("    " if last else "│   ")
    for i, child in enumerate(route.routes):
        _print_node(child, below, last=i == len(route.routes) - 1)
