"""The dashboard's datasets: the lineage page (freshness table and graph of datasets and
jobs), and the inputs and outputs on a job's and a run's page, from a real store."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from dashboards.settings import DB_URL_VARIABLE
from runner.dataset_names import Dataset
from runner.model import DatasetSchedule, Job, RunState, Task, TaskState, Trigger
from runner.store.store import Store
from tests.dashboards.apptest import run_app
from tests.dashboards.seed import NOW
from tests.head_schema import HeadSchema

ORDERS = Dataset("postgres://warehouse:5432", "analytics.public.orders")
RAW = Dataset("file", "/data/in/orders.csv")
REPORT = Dataset("s3://reports", "daily/orders.csv")
LEGACY = Dataset("s3://archive", "legacy.csv")
LOAD = Job(
    "load-orders", {"load": Task("load", command=("true",), inputs=(RAW,), outputs=(ORDERS,))}
)
BUILD = Task("build", command=("true",), inputs=(ORDERS,), outputs=(REPORT,))
REPORTING = Job("report", {"build": BUILD})
NOTIFY = Job(
    "notify",
    {"send": Task("send", command=("true",))},
    dataset_schedule=DatasetSchedule((ORDERS,)),
)
OLD = Job("old-export", {"export": Task("export", command=("true",), outputs=(LEGACY,))})


def _run(store: Store, job: Job, task: str, hours_ago: float, state: TaskState) -> int:
    at = NOW - timedelta(hours=hours_ago)
    run = store.create_run(job, at, Trigger.SCHEDULE, at)
    assert run is not None
    attempt = store.start_attempt(run, task, at)
    assert attempt is not None
    store.finish_attempt(attempt, state, at + timedelta(seconds=30))
    store.mark_run_finished(run, RunState(state.value), at + timedelta(seconds=30))
    return run.id


@pytest.fixture
def page(tmp_path: Path, head_schema: HeadSchema, monkeypatch: pytest.MonkeyPatch) -> Any:
    url = f"sqlite:///{tmp_path / 'runwatch.db'}"
    head_schema.apply(url)
    with Store.open(url) as store:
        store.sync_jobs([LOAD, REPORTING, OLD, NOTIFY], NOW - timedelta(days=3))
        runs = {
            "old": _run(store, OLD, "export", 30, TaskState.SUCCESS),
            "load": _run(store, LOAD, "load", 2, TaskState.SUCCESS),
            "report": _run(store, REPORTING, "build", 1, TaskState.FAILED),
        }
    monkeypatch.setenv(DB_URL_VARIABLE, url)

    def open_page(**params: str) -> AppTest:
        return run_app(NOW, **params)

    open_page.runs = runs  # type: ignore[attr-defined]
    return open_page


def rows(at: AppTest, column: str) -> list[dict[str, Any]]:
    (frame,) = [d.value for d in at.dataframe if column in d.value.columns]
    return list(frame.to_dict("records"))


def test_the_lineage_page_shows_each_datasets_freshness_and_the_graph(page: Any) -> None:
    at = page(page="lineage")
    table = {r["dataset"]: r for r in rows(at, "freshness")}
    assert table[ORDERS.uri]["freshness"] == "🟢 fresh"
    assert table[ORDERS.uri]["producers"] == "load-orders/load"
    assert table[ORDERS.uri]["consumers"] == "notify (schedule), report/build"
    assert table[ORDERS.uri]["by run"] == f"?run={page.runs['load']}"
    assert table[ORDERS.uri]["last update"] == "2024-05-01 10:00:30"
    assert table[LEGACY.uri]["freshness"] == "🔴 stale"  # 30 h ago
    assert table[REPORT.uri]["freshness"] == "🟡 never updated"  # its only run failed
    assert table[RAW.uri]["freshness"] == "⚪ external"

    spec = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    edges_layer, nodes_layer, _labels = spec["layer"]
    nodes = {n["node"]: n for n in nodes_layer["data"]["values"]}
    assert nodes["load-orders"]["kind"] == "job"
    assert nodes[ORDERS.uri]["state"] == "fresh"
    where = {(n["x"], n["y"]): name for name, n in nodes.items()}
    edges = {
        (where[(e["x"], e["y"])], where[(e["x2"], e["y2"])]) for e in edges_layer["data"]["values"]
    }
    assert edges == {
        (RAW.uri, "load-orders"),
        ("load-orders", ORDERS.uri),
        (ORDERS.uri, "report"),
        ("report", REPORT.uri),
        ("old-export", LEGACY.uri),
        (ORDERS.uri, "notify"),
    }


def test_a_job_page_lists_its_inputs_and_outputs_with_freshness(page: Any) -> None:
    at = page(job="report")
    table = rows(at, "reads / writes")
    assert [(r["reads / writes"], r["dataset"], r["freshness"]) for r in table] == [
        ("reads", ORDERS.uri, "🟢 fresh"),
        ("writes", REPORT.uri, "🟡 never updated"),
    ]
    assert table[0]["updated by"] == "?job=load-orders"


def test_a_run_page_says_which_outputs_the_run_updated(page: Any) -> None:
    at = page(run=str(page.runs["load"]))
    table = rows(at, "by this run")
    by_dataset = {r["dataset"]: r for r in table}
    assert by_dataset[ORDERS.uri]["by this run"] == "2024-05-01 10:00:30"
    assert by_dataset[RAW.uri]["by this run"] == ""
    failed = page(run=str(page.runs["report"]))
    assert {r["dataset"]: r["by this run"] for r in rows(failed, "by this run")} == {
        ORDERS.uri: "",
        REPORT.uri: "",
    }


def test_the_lineage_page_of_a_store_without_datasets_says_how_to_declare_them(
    tmp_path: Path, head_schema: HeadSchema, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    head_schema.apply(url)
    monkeypatch.setenv(DB_URL_VARIABLE, url)
    at = run_app(NOW, page="lineage")
    assert "inputs:" in at.info[0].value


def test_a_data_aware_jobs_page_says_what_it_runs_on(page: Any) -> None:
    at = page(job="notify")
    assert any(
        "**Schedule:** when all of these datasets were updated:" in m.value
        and ORDERS.uri in m.value
        for m in at.markdown
    )
    table = rows(at, "reads / writes")
    assert [(r["task"], r["reads / writes"]) for r in table] == [
        ("(schedule)", "runs when all are updated")
    ]
