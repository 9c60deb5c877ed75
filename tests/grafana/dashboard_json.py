"""Reading the shipped Grafana dashboards: panels, their queries, template variables."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "grafana"
DASHBOARD_UIDS = ("runwatch-overview", "runwatch-job")
DATASOURCE = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}

# What Grafana puts in place of its built-in variables, for a Prometheus scraped every
# second and a dashboard showing the last hour.
GRAFANA_BUILTINS = {
    "__rate_interval": "1m",
    "__interval": "15s",
    "__interval_ms": "15000",
    "__range": "1h",
    "__range_s": "3600",
    "__range_ms": "3600000",
}

_VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)")
_LABEL_VALUES = re.compile(r"^label_values\((?:(?P<selector>.+),\s*)?(?P<label>\w+)\)$")
_REGEX_SPECIALS = re.compile(r"[\\^$*+?.()|\[\]{}]")


def dashboard_path(uid: str) -> Path:
    """The file of the dashboard with this uid."""
    return GRAFANA / "dashboards" / f"{uid}.json"


def load_dashboard(uid: str) -> dict[str, Any]:
    """The parsed dashboard JSON."""
    dashboard: dict[str, Any] = json.loads(dashboard_path(uid).read_text())
    return dashboard


def iter_panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, rows and the panels of collapsed rows included."""
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def variables(dashboard: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The dashboard's template variables by name."""
    return {variable["name"]: variable for variable in dashboard["templating"]["list"]}


@dataclass(frozen=True)
class PanelQuery:
    """One query (target) of one panel."""

    dashboard: str
    panel_id: int
    panel_title: str
    ref_id: str
    expr: str
    instant: bool

    @property
    def name(self) -> str:
        """A readable id: dashboard/panel title/refId."""
        return f"{self.dashboard}/{self.panel_title}/{self.ref_id}"


def panel_queries(uids: tuple[str, ...] = DASHBOARD_UIDS) -> list[PanelQuery]:
    """Every query of every panel of the dashboards."""
    queries = []
    for uid in uids:
        for panel in iter_panels(load_dashboard(uid)):
            for target in panel.get("targets", []):
                queries.append(
                    PanelQuery(
                        dashboard=uid,
                        panel_id=panel["id"],
                        panel_title=panel["title"],
                        ref_id=target["refId"],
                        expr=target["expr"],
                        instant=bool(target.get("instant")) and not target.get("range"),
                    )
                )
    return queries


def substitute(expr: str, values: Mapping[str, str]) -> str:
    """Replace Grafana variables ($name, ${name}, ${name:format}, [[name]]) as Grafana does."""
    known = {**GRAFANA_BUILTINS, **values}

    def replace(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group)
        if name not in known:
            raise KeyError(f"no value for Grafana variable ${name} in {expr!r}")
        return known[name]

    return _VARIABLE.sub(replace, expr)


def regex_of(values: list[str]) -> str:
    """A multi-value variable's value as Grafana writes it into a PromQL regex matcher."""
    escaped = [_REGEX_SPECIALS.sub(lambda match: "\\\\" + match.group(), v) for v in values]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


@dataclass(frozen=True)
class LabelValuesQuery:
    """A `label_values(selector, label)` variable query, as Grafana sends it to Prometheus."""

    selector: str | None
    label: str


def parse_label_values(query: str) -> LabelValuesQuery:
    """Split a label_values() variable query; raise ValueError for any other form."""
    match = _LABEL_VALUES.match(query.strip())
    if match is None:
        raise ValueError(f"not a label_values(selector, label) query: {query!r}")
    return LabelValuesQuery(selector=match["selector"], label=match["label"])
