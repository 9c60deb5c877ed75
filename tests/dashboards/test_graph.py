"""The run's task graph as Vega-Lite data: layered columns, the failed path, scaling."""

from __future__ import annotations

from dashboards.graph import LABELLED, columns, failed_path, graph_chart, positions
from runner.model import TaskState
from runner.store.dashboard_reads.results import TaskRow
from tests.dashboards.seed import FAST_ETL

ETL = {t.name: t.after for t in FAST_ETL.tasks.values()}


def test_a_task_sits_one_column_past_its_furthest_upstream() -> None:
    assert columns(list(ETL), ETL) == {
        "extract": 0,
        "validate": 1,
        "transform": 2,
        "load": 3,
        "report": 4,
        "notify": 4,
    }
    assert positions(list(ETL), ETL)["notify"] == (4, 0.0)  # by name within a column
    assert positions(list(ETL), ETL)["report"] == (4, 1.0)


def test_the_failed_path_runs_from_the_sources_through_the_failure_to_what_it_stopped() -> None:
    tasks = [
        TaskRow("extract", TaskState.SUCCESS, 1),
        TaskRow("validate", TaskState.SUCCESS, 1),
        TaskRow("transform", TaskState.FAILED, 3),
        TaskRow("load", TaskState.UPSTREAM_FAILED, 0),
        TaskRow("report", TaskState.UPSTREAM_FAILED, 0),
        TaskRow("notify", TaskState.UPSTREAM_FAILED, 0),
        TaskRow("audit", TaskState.SUCCESS, 1),
    ]
    assert failed_path(tasks, ETL) == set(ETL)

    spec = graph_chart(tasks, ETL)
    edges, nodes, labels = spec["layer"]
    assert all(e["failed"] for e in edges["data"]["values"])
    assert len(edges["data"]["values"]) == 5
    assert {n["task"]: n["state"] for n in nodes["data"]["values"]}["audit"] == "success"
    assert nodes["params"][0]["bind"] == "scales"  # pan and zoom
    fills = nodes["encoding"]["fill"]["scale"]
    assert dict(zip(fills["domain"], fills["range"], strict=True))["failed"] == "#ffcdd2"
    assert labels["mark"]["fontSize"] == 12


def test_a_graph_of_500_tasks_has_small_nodes_and_labels_only_its_failures() -> None:
    upstream = {f"t{i:03d}": (f"t{(i - 1) // 2:03d}",) if i else () for i in range(500)}
    tasks = [
        TaskRow(t, TaskState.FAILED if t == "t400" else TaskState.SUCCESS, 1) for t in upstream
    ]

    spec = graph_chart(tasks, upstream)

    edges, nodes, _labels = spec["layer"]
    assert len(nodes["data"]["values"]) == 500 > LABELLED
    assert len(edges["data"]["values"]) == 499
    assert [n["label"] for n in nodes["data"]["values"] if n["label"]] == ["t400"]
    assert {n["x"] for n in nodes["data"]["values"]} == set(range(9))
    assert nodes["encoding"]["size"]["value"] < 400
    failed = {(e["x2"], e["y2"]) for e in edges["data"]["values"] if e["failed"]}
    assert len(failed) == 8  # t400 and its ancestors back to t000
    assert spec["height"] <= 900
