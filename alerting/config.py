"""The ``alerting:`` section of runwatch.yaml: parsed, validated and typed.

Every problem is a DefinitionError naming the file, the key path and what is wrong, so
``runwatch check`` fails at deploy time rather than at 3 a.m.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from alerting.alerts import IDENTIFYING, FlapPolicy
from alerting.config_reader import KeyPath
from alerting.inhibition import InhibitRule
from alerting.matchers import Matcher, MatcherError, MatchOp, new_matcher, parse_matchers
from alerting.receivers import Receiver, default_receiver, parse_receiver
from alerting.routing import GROUP_BY_ALL, Route
from alerting.rules import Rule, RuleKind, Severity
from alerting.silences import MaintenanceWindow
from alerting.timeintervals import NamedTimeInterval, parse_time_intervals
from runner import cron
from runner.dashboard_access import DASHBOARD_KEYS
from runner.run_page import url_problem
from runner.secret import Secret

_TOP = (
    "receivers",
    "route",
    "inhibit_rules",
    "rules",
    "maintenance",
    "flap_threshold",
    "flap_window",
    "trace_url",
    "evaluate_in_run",
    "time_intervals",
    "mute_time_intervals",
)
_ROUTE = (
    "receiver",
    "match",
    "match_re",
    "matchers",
    "group_by",
    "group_wait",
    "group_interval",
    "repeat_interval",
    "continue",
    "routes",
    "mute_time_intervals",
    "active_time_intervals",
)
_MATCH_KEYS = ("match", "match_re", "matchers")
_INHIBIT = (*(f"{side}_{key}" for side in ("source", "target") for key in _MATCH_KEYS), "equal")
_RULE = ("alert", "when", "severity", "matchers", "labels", "annotations", "runbook")
# the parameter each kind takes: key -> kinds that accept it
_RULE_PARAMS = {
    "threshold": (RuleKind.DURATION_EXCEEDED, RuleKind.CONSECUTIVE_FAILURES),
    "for": (RuleKind.STALE, RuleKind.DATASET_STALE),
    "deadline": (RuleKind.DEADLINE_MISSED,),
}
_REQUIRED_PARAM = {
    RuleKind.DURATION_EXCEEDED: "threshold",
    RuleKind.CONSECUTIVE_FAILURES: "threshold",
    RuleKind.STALE: "for",
    RuleKind.DATASET_STALE: "for",
    RuleKind.DEADLINE_MISSED: "deadline",
}
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class EvaluateInRun(StrEnum):
    """Whether ``runwatch run``/``wrap`` evaluate alerts themselves."""

    AUTO = "auto"
    ALWAYS = "always"
    NEVER = "never"


@dataclass(frozen=True)
class AlertingConfig:
    """Receivers, the route tree, inhibition, rules, maintenance windows and flapping."""

    receivers: Mapping[str, Receiver]
    route: Route
    rules: tuple[Rule, ...] = ()
    inhibit_rules: tuple[InhibitRule, ...] = ()
    maintenance: tuple[MaintenanceWindow, ...] = ()
    flap: FlapPolicy = field(default_factory=FlapPolicy)
    trace_url: str | None = None
    dashboard_url: str | None = None
    """The dashboard's base URL: notifications link to ``{dashboard_url}/?run=ID``."""
    evaluate_in_run: EvaluateInRun = EvaluateInRun.AUTO
    source: str = "runwatch.yaml"

    def secrets(self) -> list[Secret]:
        """Every secret of every receiver (for scrubbing messages)."""
        return [s for r in self.receivers.values() for s in r.secrets()]


def load_alerting(settings: object, env: Mapping[str, str] | None = None) -> AlertingConfig:
    """The alerting config of loaded settings (their raw ``alerting`` mapping).

    ``runner.config`` has already replaced ``${VAR}`` references (failing on unset ones)
    and wrapped the results as secrets; pass ``env`` only for a raw, uninterpolated
    mapping. Raises DefinitionError naming the file, the key and the problem.
    """
    raw = getattr(settings, "alerting", None)
    source = _source_name(settings)
    dashboard = KeyPath(source, ("dashboard",)).mapping(
        getattr(settings, "dashboard", None), DASHBOARD_KEYS
    )
    telemetry = getattr(settings, "telemetry", None) or {}
    trace_url = telemetry.get("trace_url")  # a secret one stays out of pages
    return parse_alerting(
        raw,
        source=source,
        env=env,
        dashboard_url=_base_url(dashboard.get("url"), KeyPath(source, ("dashboard", "url"))),
        default_trace_url=trace_url if isinstance(trace_url, str) else None,
    )


def parse_alerting(
    raw: object,
    *,
    source: str = "runwatch.yaml",
    env: Mapping[str, str] | None = None,
    dashboard_url: str | None = None,
    default_trace_url: str | None = None,
) -> AlertingConfig:
    """Parse an ``alerting:`` mapping (None gives the defaults: one ``log`` receiver).

    ``alerting.trace_url`` falls back to ``default_trace_url`` (``telemetry.trace_url``).
    """
    root = KeyPath(source, ("alerting",), env)
    body = root.mapping(raw, _TOP)
    receivers = _receivers(body.get("receivers"), root.key("receivers"))
    intervals = _time_intervals(body, root)
    route = _route(body.get("route"), root.key("route"), _Names(receivers, intervals), None, "root")
    _check_fallbacks(receivers, root.key("receivers"))
    flap = FlapPolicy(
        threshold=root.key("flap_threshold").count(body.get("flap_threshold", 3)),
        window_seconds=root.key("flap_window").duration(body.get("flap_window", "1h")),
    )
    trace_url = body.get("trace_url") or default_trace_url
    if trace_url is not None:
        root.key("trace_url").text(trace_url)
    mode = body.get("evaluate_in_run", "auto")
    if mode not in {m.value for m in EvaluateInRun}:
        root.key("evaluate_in_run").fail(f"{mode!r}: expected auto, always or never")
    return AlertingConfig(
        receivers=receivers,
        route=route,
        rules=_rules(body.get("rules"), root.key("rules")),
        inhibit_rules=_inhibit_rules(body.get("inhibit_rules"), root.key("inhibit_rules")),
        maintenance=_maintenance(body.get("maintenance"), root.key("maintenance")),
        flap=flap,
        trace_url=trace_url,
        dashboard_url=dashboard_url,
        evaluate_in_run=EvaluateInRun(mode),
        source=source,
    )


def _source_name(settings: object) -> str:
    for name in ("config_path", "path", "source"):
        value = getattr(settings, name, None)
        if value:
            return str(value)
    return "runwatch.yaml"


def _receivers(raw: object, where: KeyPath) -> dict[str, Receiver]:
    body = where.mapping(raw)
    if not body:
        receiver = default_receiver()
        return {receiver.name: receiver}
    found = {}
    for name, value in body.items():
        if not _NAME.match(name.replace("-", "_")):
            where.key(name).fail("receiver names may use letters, digits, - and _")
        found[name] = parse_receiver(name, value, where.key(name))
    return found


def _check_fallbacks(receivers: Mapping[str, Receiver], where: KeyPath) -> None:
    for name, receiver in receivers.items():
        seen = [name]
        current = receiver
        while current.fallback is not None:
            at = where.key(current.name).key("fallback")
            if current.fallback not in receivers:
                at.fail(f"unknown receiver {current.fallback!r} ({_known(receivers)})")
            if current.fallback in seen:
                at.fail(f"fallbacks form a cycle: {' -> '.join([*seen, current.fallback])}")
            seen.append(current.fallback)
            current = receivers[current.fallback]


def _known(receivers: Mapping[str, Receiver]) -> str:
    return "known: " + ", ".join(sorted(receivers))


@dataclass(frozen=True)
class _Names:
    """What routes may refer to by name: receivers and time intervals."""

    receivers: Mapping[str, Receiver]
    intervals: Mapping[str, NamedTimeInterval]


def _time_intervals(body: Mapping[str, Any], root: KeyPath) -> dict[str, NamedTimeInterval]:
    """``time_intervals`` and its deprecated twin ``mute_time_intervals``, by name."""
    found = parse_time_intervals(body.get("time_intervals"), root.key("time_intervals"))
    older = root.key("mute_time_intervals")
    for name, interval in parse_time_intervals(body.get("mute_time_intervals"), older).items():
        if name in found:
            older.fail(f"time interval {name!r} is also defined in time_intervals")
        found[name] = interval
    return found


def _route(
    raw: object,
    where: KeyPath,
    names: _Names,
    parent: Route | None,
    route_id: str,
) -> Route:
    body = where.mapping(raw, _ROUTE)
    if parent is None:
        for key in (*_MATCH_KEYS, "continue", "mute_time_intervals", "active_time_intervals"):
            if key in body:
                where.key(key).fail("not allowed on the root route (it takes every alert)")
    receivers = names.receivers
    if "receiver" in body:
        receiver = where.key("receiver").text(body["receiver"])
        if receiver not in receivers:
            where.key("receiver").fail(f"unknown receiver {receiver!r} ({_known(receivers)})")
    elif parent is not None:
        receiver = parent.receiver
    elif len(receivers) == 1:
        receiver = next(iter(receivers))
    else:
        where.key("receiver").fail("required when more than one receiver is configured")
    base = parent or Route("", receiver)
    values: dict[str, Any] = {}
    for key in ("group_wait", "group_interval", "repeat_interval"):
        if key in body:
            values[f"{key}_seconds"] = where.key(key).duration(body[key])
    if values.get("repeat_interval_seconds", 1.0) <= 0:
        where.key("repeat_interval").fail("must be more than 0s")
    if "group_by" in body:
        values["group_by"] = _group_by(body["group_by"], where.key("group_by"))
    cont = body.get("continue", False)
    if not isinstance(cont, bool):
        where.key("continue").fail(f"expected true or false, got {cont!r}")
    route = Route(
        id=route_id,
        receiver=receiver,
        matchers=_match_keys(body, where),
        group_by=values.get("group_by", base.group_by),
        group_wait_seconds=values.get("group_wait_seconds", base.group_wait_seconds),
        group_interval_seconds=values.get("group_interval_seconds", base.group_interval_seconds),
        repeat_interval_seconds=values.get("repeat_interval_seconds", base.repeat_interval_seconds),
        continue_=cont,
        mute_time_intervals=_interval_refs(body, "mute_time_intervals", where, names),
        active_time_intervals=_interval_refs(body, "active_time_intervals", where, names),
    )
    children = tuple(
        _route(child, where.key("routes").index(i), names, route, f"{route_id}.{i}")
        for i, child in enumerate(where.key("routes").items(body.get("routes")))
    )
    return Route(**{**vars(route), "routes": children})


def _group_by(raw: object, where: KeyPath) -> tuple[str, ...]:
    """Label names, or ``['...']`` alone (Alertmanager rejects ``...`` beside names)."""
    found: list[str] = []
    for i, value in enumerate(where.items(raw)):
        name = _label_name(value, where.index(i), allow_all=True)
        if name in found:
            where.index(i).fail(f"duplicate label {name!r}")
        found.append(name)
    if GROUP_BY_ALL in found and len(found) > 1:
        where.fail("'...' (group by every label) cannot be combined with label names")
    return tuple(found)


def _interval_refs(
    body: Mapping[str, Any], key: str, where: KeyPath, names: _Names
) -> tuple[NamedTimeInterval, ...]:
    found = []
    for i, value in enumerate(where.key(key).items(body.get(key))):
        at = where.key(key).index(i)
        name = at.text(value)
        if name not in names.intervals:
            known = ", ".join(sorted(names.intervals)) or "none are defined"
            at.fail(f"undefined time interval {name!r} (time_intervals: {known})")
        found.append(names.intervals[name])
    return tuple(found)


def _match_keys(body: Mapping[str, Any], where: KeyPath, prefix: str = "") -> tuple[Matcher, ...]:
    """``{prefix}match``, ``{prefix}match_re`` and ``{prefix}matchers``, all ANDed."""
    found: list[Matcher] = []
    for op, key in ((MatchOp.EQUAL, f"{prefix}match"), (MatchOp.REGEX, f"{prefix}match_re")):
        at = where.key(key)
        for name, value in at.mapping(body.get(key)).items():
            _label_name(name, at.key(name))
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                at.key(name).fail(f"expected a string, got {value!r}")
            try:
                found.append(new_matcher(name, op, str(value)))
            except MatcherError as exc:
                at.key(name).fail(str(exc))
    found.extend(_matchers(body.get(f"{prefix}matchers"), where.key(f"{prefix}matchers")))
    return tuple(found)


def _matchers(raw: object, where: KeyPath) -> tuple[Matcher, ...]:
    """A ``matchers`` list; each item may hold a comma list or ``{…}``, as in Alertmanager."""
    found = []
    for i, text in enumerate(where.items(raw)):
        try:
            found.extend(parse_matchers(text))
        except MatcherError as exc:
            where.index(i).fail(str(exc))
    return tuple(found)


def _label_name(value: object, where: KeyPath, *, allow_all: bool = False) -> str:
    if allow_all and value == "...":
        return "..."
    if not isinstance(value, str) or not _NAME.match(value):
        where.fail(f"{value!r} is not a label name (letters, digits and _)")
    return value


def _rules(raw: object, where: KeyPath) -> tuple[Rule, ...]:
    found: list[Rule] = []
    names: dict[str, int] = {}
    for i, value in enumerate(where.items(raw)):
        rule = _rule(value, where.index(i))
        if rule.alert in names:
            where.index(i).key("alert").fail(
                f"duplicate alert name {rule.alert!r} (also rules[{names[rule.alert]}])"
            )
        names[rule.alert] = i
        found.append(rule)
    return tuple(found)


def _rule(raw: object, where: KeyPath) -> Rule:
    body = where.mapping(raw, (*_RULE, *_RULE_PARAMS))
    if "alert" not in body:
        where.key("alert").fail("required (the alert's name, e.g. JobFailed)")
    alert = _label_value_name(body["alert"], where.key("alert"))
    kinds = ", ".join(k.value for k in RuleKind)
    if "when" not in body:
        where.key("when").fail(f"required (one of: {kinds})")
    try:
        kind = RuleKind(body["when"])
    except ValueError:
        where.key("when").fail(f"{body['when']!r}: expected one of: {kinds}")
    try:
        severity = Severity(body.get("severity", "warning"))
    except ValueError:
        where.key("severity").fail(
            f"{body['severity']!r}: expected critical, error, warning or info"
        )
    params: dict[str, Any] = {}
    for key, accepting in _RULE_PARAMS.items():
        if key not in body:
            continue
        if kind not in accepting:
            where.key(key).fail(
                f"not used by {kind.value} (only by {', '.join(k.value for k in accepting)})"
            )
        if kind is RuleKind.CONSECUTIVE_FAILURES:
            params["count"] = where.key(key).count(body[key], minimum=1)
        else:
            seconds = where.key(key).duration(body[key])
            if seconds <= 0:
                where.key(key).fail("must be more than 0s")
            attr = {"threshold": "threshold_seconds", "for": "for_seconds"}.get(key)
            params[attr or "deadline_seconds"] = seconds
    required = _REQUIRED_PARAM.get(kind)
    if required and required not in body:
        what = "a count, e.g. 3" if kind is RuleKind.CONSECUTIVE_FAILURES else "a duration"
        where.key(required).fail(f"required by {kind.value} ({what})")
    return Rule(
        alert=alert,
        kind=kind,
        severity=severity,
        matchers=_matchers(body.get("matchers"), where.key("matchers")),
        labels=_labels(body.get("labels"), where.key("labels")),
        annotations=_annotations(body.get("annotations"), where.key("annotations"))
        | _runbook(body.get("runbook"), where.key("runbook")),
        **params,
    )


def _runbook(raw: object, where: KeyPath) -> dict[str, str]:
    """``runbook:`` as the ``runbook_url`` annotation (a template: ``{job}`` works)."""
    if raw is None:
        return {}
    return {"runbook_url": _base_url(raw, where, template=True) or ""}


def _base_url(raw: object, where: KeyPath, *, template: bool = False) -> str | None:
    """An http(s) URL with a host (trailing ``/`` dropped); None when not set."""
    if raw is None:
        return None
    text = where.text(raw).strip()
    problem = url_problem(text, template=template)
    if problem:
        where.fail(problem if isinstance(raw, Secret) else f"{problem}, got {text!r}")
    return text if template else text.rstrip("/")


def _label_value_name(value: object, where: KeyPath) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        where.fail(f"{value!r}: expected a name of letters, digits and _ (e.g. JobFailed)")
    return value


def _labels(raw: object, where: KeyPath) -> dict[str, str]:
    labels = {}
    for name, value in where.mapping(raw).items():
        _label_name(name, where.key(name))
        if name in (*IDENTIFYING, "owner", "tags", "run_id"):
            where.key(name).fail("is set by runwatch and cannot be overridden")
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            where.key(name).fail(f"expected a string, got {value!r}")
        labels[name] = str(value)
    return labels


def _annotations(raw: object, where: KeyPath) -> dict[str, str]:
    found = {}
    for name, value in where.mapping(raw).items():
        if not isinstance(value, str):
            where.key(name).fail(f"expected a template string, got {value!r}")
        found[name] = value
    return found


def _inhibit_rules(raw: object, where: KeyPath) -> tuple[InhibitRule, ...]:
    found = []
    for i, value in enumerate(where.items(raw)):
        at = where.index(i)
        body = at.mapping(value, _INHIBIT)
        sides = {side: _match_keys(body, at, f"{side}_") for side in ("source", "target")}
        for side, matchers in sides.items():
            if not matchers:
                at.key(f"{side}_matchers").fail("required (a non-empty list of matchers)")
        equal = tuple(
            _label_name(v, at.key("equal").index(j))
            for j, v in enumerate(at.key("equal").items(body.get("equal")))
        )
        found.append(InhibitRule(source=sides["source"], target=sides["target"], equal=equal))
    return tuple(found)


def _maintenance(raw: object, where: KeyPath) -> tuple[MaintenanceWindow, ...]:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    found = []
    for i, value in enumerate(where.items(raw)):
        at = where.index(i)
        body = at.mapping(value, ("name", "schedule", "duration", "timezone", "matchers"))
        for key in ("schedule", "duration"):
            if key not in body:
                at.key(key).fail("required")
        schedule = at.key("schedule").text(body["schedule"])
        if not cron.parses(schedule):
            at.key("schedule").fail(f"{schedule!r} is not a cron expression")
        timezone = at.key("timezone").text(body.get("timezone", "UTC"))
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            at.key("timezone").fail(f"{timezone!r} is not an IANA time zone")
        duration = at.key("duration").duration(body["duration"])
        if duration <= 0:
            at.key("duration").fail("must be more than 0s")
        found.append(
            MaintenanceWindow(
                name=str(body.get("name", f"maintenance[{i}]")),
                schedule=schedule,
                duration_seconds=duration,
                matchers=_matchers(body.get("matchers"), at.key("matchers")),
                timezone=timezone,
            )
        )
    return tuple(found)
