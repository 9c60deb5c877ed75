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
from urllib.parse import urlsplit

from alerting.alerts import IDENTIFYING, FlapPolicy
from alerting.inhibition import InhibitRule
from alerting.keypath import KeyPath
from alerting.matchers import Matcher, parse_matcher
from alerting.receivers import Receiver, default_receiver, parse_receiver
from alerting.routing import Route
from alerting.rules import Rule, RuleKind, Severity
from alerting.silences import MaintenanceWindow
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
)
_ROUTE = (
    "receiver",
    "matchers",
    "group_by",
    "group_wait",
    "group_interval",
    "repeat_interval",
    "continue",
    "routes",
)
_RULE = ("alert", "when", "severity", "matchers", "labels", "annotations", "runbook")
# the parameter each kind takes: key -> kinds that accept it
_RULE_PARAMS = {
    "threshold": (RuleKind.DURATION_EXCEEDED, RuleKind.CONSECUTIVE_FAILURES),
    "for": (RuleKind.STALE,),
    "deadline": (RuleKind.DEADLINE_MISSED,),
}
_REQUIRED_PARAM = {
    RuleKind.DURATION_EXCEEDED: "threshold",
    RuleKind.CONSECUTIVE_FAILURES: "threshold",
    RuleKind.STALE: "for",
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
        getattr(settings, "dashboard", None), ("url",)
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
    route = _route(body.get("route"), root.key("route"), receivers, None, "root")
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


def parse_rules(raw: object, *, source: str) -> tuple[Rule, ...]:
    """Parse a list of rules on its own (``alerts replay --rules FILE``)."""
    return _rules(raw, KeyPath(source, ("rules",)))


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


def _route(
    raw: object,
    where: KeyPath,
    receivers: Mapping[str, Receiver],
    parent: Route | None,
    route_id: str,
) -> Route:
    body = where.mapping(raw, _ROUTE)
    if parent is None:
        for key in ("matchers", "continue"):
            if key in body:
                where.key(key).fail("not allowed on the root route (it takes every alert)")
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
        values["group_by"] = tuple(
            _label_name(v, where.key("group_by").index(i), allow_all=True)
            for i, v in enumerate(where.key("group_by").items(body["group_by"]))
        )
    cont = body.get("continue", False)
    if not isinstance(cont, bool):
        where.key("continue").fail(f"expected true or false, got {cont!r}")
    route = Route(
        id=route_id,
        receiver=receiver,
        matchers=_matchers(body.get("matchers"), where.key("matchers")),
        group_by=values.get("group_by", base.group_by),
        group_wait_seconds=values.get("group_wait_seconds", base.group_wait_seconds),
        group_interval_seconds=values.get("group_interval_seconds", base.group_interval_seconds),
        repeat_interval_seconds=values.get("repeat_interval_seconds", base.repeat_interval_seconds),
        continue_=cont,
    )
    children = tuple(
        _route(child, where.key("routes").index(i), receivers, route, f"{route_id}.{i}")
        for i, child in enumerate(where.key("routes").items(body.get("routes")))
    )
    return Route(**{**vars(route), "routes": children})


def _matchers(raw: object, where: KeyPath) -> tuple[Matcher, ...]:
    found = []
    for i, text in enumerate(where.items(raw)):
        try:
            found.append(parse_matcher(text))
        except ValueError as exc:
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
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        where.fail(f"expected an http:// or https:// URL with a host, got {text!r}")
    if not template and (parts.query or parts.fragment):
        where.fail(f"expected a base URL without ?query or #fragment, got {text!r}")
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
        body = at.mapping(value, ("source_matchers", "target_matchers", "equal"))
        for key in ("source_matchers", "target_matchers"):
            if not body.get(key):
                at.key(key).fail("required (a non-empty list of matchers)")
        equal = tuple(
            _label_name(v, at.key("equal").index(j))
            for j, v in enumerate(at.key("equal").items(body.get("equal")))
        )
        found.append(
            InhibitRule(
                source=_matchers(body["source_matchers"], at.key("source_matchers")),
                target=_matchers(body["target_matchers"], at.key("target_matchers")),
                equal=equal,
            )
        )
    return tuple(found)


def _maintenance(raw: object, where: KeyPath) -> tuple[MaintenanceWindow, ...]:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from croniter import croniter

    found = []
    for i, value in enumerate(where.items(raw)):
        at = where.index(i)
        body = at.mapping(value, ("name", "schedule", "duration", "timezone", "matchers"))
        for key in ("schedule", "duration"):
            if key not in body:
                at.key(key).fail("required")
        schedule = at.key("schedule").text(body["schedule"])
        if not croniter.is_valid(schedule):
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
