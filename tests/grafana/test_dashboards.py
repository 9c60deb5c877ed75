"""The shipped dashboards are valid, portable Grafana JSON whose queries parse."""

from __future__ import annotations

import itertools
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.prometheus import require_binary
from tests.grafana.contract import CONTRACT, series_names
from tests.grafana.dashboard_json import (
    DASHBOARD_UIDS,
    DATASOURCE,
    dashboard_path,
    iter_panels,
    load_dashboard,
    panel_queries,
    parse_label_values,
    regex_of,
    substitute,
    variables,
)

HOST_PATTERN = re.compile(r"://|localhost|\b\d{1,3}(?:\.\d{1,3}){3}\b|:\d{2,5}\b", re.IGNORECASE)
RECORDED_NAME = re.compile(r"\b\w*:\w*runwatch\w*")
RUNWATCH_NAME = re.compile(r"\brunwatch_\w+")
PANEL_TYPES = {"row", "stat", "timeseries", "table", "bargauge", "heatmap"}


def _strings(node: Any) -> list[str]:
    """Every string value (and key) anywhere in a JSON document."""
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in (key, *_strings(value))]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    return [node] if isinstance(node, str) else []


def _sample_values(uid: str) -> dict[str, str]:
    """Plausible values for the dashboard's own variables, formatted as Grafana does."""
    job = variables(load_dashboard(uid))["job"]
    jobs = regex_of(["nightly-etl", "hourly.report"]) if job["multi"] else "nightly-etl"
    return {"DS_PROMETHEUS": "runwatch-prometheus", "owner": ".*", "job": jobs}


@pytest.fixture(params=DASHBOARD_UIDS)
def dashboard(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Each shipped dashboard in turn."""
    return load_dashboard(request.param)


def test_every_dashboard_file_is_named_after_its_stable_uid() -> None:
    files = sorted(path.stem for path in dashboard_path("x").parent.glob("*.json"))
    assert files == sorted(DASHBOARD_UIDS)
    for uid in DASHBOARD_UIDS:
        dashboard = load_dashboard(uid)
        assert dashboard["uid"] == uid
        assert dashboard["id"] is None, "an exported id would clash on import"


def test_dashboards_use_a_current_schema_version(dashboard: dict[str, Any]) -> None:
    assert dashboard["schemaVersion"] >= 39


def test_panel_ids_are_unique_within_a_dashboard(dashboard: dict[str, Any]) -> None:
    ids = [panel["id"] for panel in iter_panels(dashboard)]
    assert len(ids) == len(set(ids)), ids
    assert all(isinstance(panel_id, int) and panel_id > 0 for panel_id in ids)


def test_panels_fit_the_grid_without_overlapping(dashboard: dict[str, Any]) -> None:
    cells: dict[tuple[int, int], str] = {}
    for panel in iter_panels(dashboard):
        assert panel["type"] in PANEL_TYPES, panel["type"]
        grid = panel["gridPos"]
        assert grid["x"] >= 0, panel["title"]
        assert grid["w"] > 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for x, y in itertools.product(
            range(grid["x"], grid["x"] + grid["w"]), range(grid["y"], grid["y"] + grid["h"])
        ):
            assert (x, y) not in cells, f"{panel['title']!r} overlaps {cells[(x, y)]!r}"
            cells[(x, y)] = panel["title"]


def test_every_panel_and_query_uses_the_datasource_variable(dashboard: dict[str, Any]) -> None:
    for panel in iter_panels(dashboard):
        if panel["type"] == "row":
            assert "datasource" not in panel or panel["datasource"] == DATASOURCE
            continue
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], f"{panel['title']!r} has no query"
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, (panel["title"], target["refId"])


def test_query_ref_ids_are_unique_within_a_panel(dashboard: dict[str, Any]) -> None:
    for panel in iter_panels(dashboard):
        ref_ids = [target["refId"] for target in panel.get("targets", [])]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]


def test_the_datasource_is_an_import_input_and_a_variable_of_the_same_name(
    dashboard: dict[str, Any],
) -> None:
    # The variable carries the input's name, so `${DS_PROMETHEUS}` resolves both when
    # Grafana substitutes the input on import and when the file is provisioned as is.
    (source_input,) = dashboard["__inputs"]
    assert source_input["name"] == "DS_PROMETHEUS"
    assert source_input["type"] == "datasource"
    assert source_input["pluginId"] == "prometheus"
    variable = variables(dashboard)["DS_PROMETHEUS"]
    assert variable["type"] == "datasource"
    assert variable["query"] == "prometheus"


def test_job_and_owner_variables_come_from_runwatch_job_info(dashboard: dict[str, Any]) -> None:
    found = variables(dashboard)
    assert list(found) == ["DS_PROMETHEUS", "owner", "job"]
    for name in ("owner", "job"):
        variable = found[name]
        assert variable["type"] == "query"
        assert variable["datasource"] == DATASOURCE
        query = parse_label_values(variable["query"])
        assert query.label == name
        assert query.selector is not None
        assert query.selector.startswith("runwatch_job_info")
        assert variable["definition"] == variable["query"]
    assert found["owner"]["multi"]
    assert found["owner"]["includeAll"]
    assert found["owner"]["allValue"] == ".*"


def test_the_overview_selects_many_jobs_and_the_job_dashboard_one() -> None:
    overview_job = variables(load_dashboard("runwatch-overview"))["job"]
    assert overview_job["multi"]
    assert overview_job["includeAll"]
    assert overview_job["allValue"] == ".*"
    one_job = variables(load_dashboard("runwatch-job"))["job"]
    assert not one_job["multi"]
    assert not one_job["includeAll"]


def test_dashboards_hard_code_no_host_or_url(dashboard: dict[str, Any]) -> None:
    found = [s for s in _strings(dashboard) if HOST_PATTERN.search(s)]
    assert found == []


def test_dashboards_query_only_metrics_of_the_contract() -> None:
    known = series_names()
    for query in panel_queries():
        used = set(RUNWATCH_NAME.findall(query.expr))
        assert used, f"{query.name} queries no runwatch metric"
        assert used <= known, f"{query.name}: not in the contract: {sorted(used - known)}"
        # Dashboards read raw metrics so that they work before rules.yml is loaded.
        assert not RECORDED_NAME.search(query.expr), query.name


def test_every_contract_metric_is_shown_on_a_dashboard() -> None:
    exprs = "\n".join(query.expr for query in panel_queries())
    missing = [metric.name for metric in CONTRACT if metric.name not in exprs]
    assert missing == []


def test_overview_queries_filter_by_job_and_owner() -> None:
    for query in panel_queries(("runwatch-overview",)):
        if "job=~" in query.expr:
            assert 'runwatch_job_info{owner=~"$owner"}' in query.expr, query.name


def test_every_panel_query_parses_with_promtool(tmp_path: Path) -> None:
    promtool = require_binary("promtool")
    queries = panel_queries()
    rules = [
        {
            "record": f"grafana_panel_query_{number}",
            "expr": substitute(q.expr, _sample_values(q.dashboard)),
        }
        for number, q in enumerate(queries)
    ]
    for uid in DASHBOARD_UIDS:
        for variable in variables(load_dashboard(uid)).values():
            if variable["type"] == "query":
                selector = parse_label_values(variable["query"]).selector
                assert selector is not None
                rules.append(
                    {
                        "record": "grafana_variable_query",
                        "expr": substitute(selector, _sample_values(uid)),
                    }
                )
    rules_file = tmp_path / "panel_queries.yml"
    rules_file.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}))
    result = subprocess.run(
        [promtool, "check", "rules", str(rules_file)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_substitution_leaves_no_grafana_variable_behind() -> None:
    for query in panel_queries():
        expr = substitute(query.expr, _sample_values(query.dashboard))
        assert "$" not in expr, query.name
        assert "[[" not in expr, query.name


def test_grafana_regex_formatting_escapes_job_names() -> None:
    assert regex_of(["a.b", "c-d"]) == r"(a\\.b|c-d)"
    assert regex_of(["nightly-etl"]) == "nightly-etl"
