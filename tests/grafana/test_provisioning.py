"""Grafana provisioning shows both dashboards with no clicks, and the README documents it."""

from __future__ import annotations

from typing import Any

import yaml

from tests.grafana.contract import CONTRACT
from tests.grafana.dashboard_json import DASHBOARD_UIDS, GRAFANA, load_dashboard, variables

PROVISIONING = GRAFANA / "provisioning"
README = GRAFANA / "README.md"


def _load(path: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((PROVISIONING / path).read_text())
    return data


def test_the_provisioned_datasource_is_the_dashboards_default() -> None:
    datasources = _load("datasources/runwatch.yaml")
    assert datasources["apiVersion"] == 1
    (datasource,) = datasources["datasources"]
    assert datasource["type"] == "prometheus"
    assert datasource["access"] == "proxy"
    for uid in DASHBOARD_UIDS:
        default = variables(load_dashboard(uid))["DS_PROMETHEUS"]["current"]
        assert default["value"] == datasource["uid"], uid
        assert default["text"] == datasource["name"], uid


def test_the_dashboard_provider_reads_the_folder_the_readme_documents() -> None:
    providers = _load("dashboards/runwatch.yaml")
    assert providers["apiVersion"] == 1
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    path = provider["options"]["path"]
    assert path.startswith("/"), "Grafana resolves a relative path against its own cwd"
    assert path in README.read_text()


def test_the_readme_documents_every_contract_metric_with_type_and_labels() -> None:
    rows = {
        cells[0].strip("` "): cells
        for line in README.read_text().splitlines()
        if line.startswith("| `runwatch_")
        for cells in [[cell.strip() for cell in line.strip("|").split("|")]]
    }
    for metric in CONTRACT:
        assert metric.name in rows, metric.name
        _, metric_type, labels, meaning = rows[metric.name]
        assert metric_type == metric.type, metric.name
        assert [label.strip("` ") for label in labels.split(",") if label.strip("` —")] == list(
            metric.labels
        ), metric.name
        assert meaning, metric.name


def test_the_readme_explains_import_provisioning_and_rules() -> None:
    text = README.read_text()
    for needle in ("__inputs", "provisioning", "rules.yml", "honor_labels", "promtool"):
        assert needle in text, needle
