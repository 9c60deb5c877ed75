"""Every page of the app, run by Streamlit's AppTest against a seeded SQLite store."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from dashboards.settings import DB_URL_VARIABLE, LOGS_DIR_VARIABLE, TRACE_URL_VARIABLE
from runner.model import Job, JobDependency, Period, RunState, Task, Trigger
from runner.store import migrate
from runner.store.store import Store
from tests.dashboards.apptest import app_test, run_app
from tests.dashboards.seed import NOW, TRACE_ID

Open = Callable[..., AppTest]


@pytest.fixture
def open_page(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Open:
    """Run the app at NOW with ``?key=value`` query parameters; return it for inspection."""
    monkeypatch.setenv(DB_URL_VARIABLE, sqlite_url)
    monkeypatch.setenv(LOGS_DIR_VARIABLE, str(tmp_path / "logs"))  # where the seed logs are
    monkeypatch.setenv(TRACE_URL_VARIABLE, "https://tempo.example/trace/{trace_id}")

    def run(**params: str) -> AppTest:
        return run_app(NOW, **params)

    return run


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def tables(at: AppTest, column: str) -> list[list[dict[str, Any]]]:
    """The rows of each table (in page order) that has ``column``."""
    found = [d.value for d in at.dataframe if column in d.value.columns]
    assert found, f"no table with a {column!r} column"
    return [frame.to_dict("records") for frame in found]


def table(at: AppTest, column: str) -> list[dict[str, Any]]:
    """The rows of the first table that has ``column``."""
    return tables(at, column)[0]


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [c.value for c in at.code] + [e.value for e in at.error] + [i.value for i in at.info]
    return "\n".join(str(p) for p in parts)


def test_the_overview_lists_the_failing_job_first_under_the_headline_numbers(
    open_page: Open,
) -> None:
    at = open_page()

    assert metrics(at) == {
        "Failing jobs": "1",
        "Late jobs": "1",
        "Runs today": "10",
        "Failures today": "2",
        "Firing alerts": "1",
        "Scheduler seen": "30 s ago",
    }
    rows = table(at, "why")
    assert [r["job"] for r in rows] == [
        "?job=billing",
        "?job=reports",
        "?job=streaming",
        "?job=adhoc-export",
        "?job=nightly-etl",
        "?job=cleanup",
    ]
    assert rows[0]["status"] == "🔴 failing"
    assert rows[0]["last run"] == "🔴 failed"
    assert rows[0]["since"] == "1 h 58 min ago"
    assert "KeyError: 'amount'" in rows[0]["why"]
    assert rows[0]["success rate"] == pytest.approx(0.6)
    assert rows[1]["status"] == "🟠 late"
    more = table(at, "paused")
    assert [r["job"] for r in more] == [r["job"].removeprefix("?job=") for r in rows]
    assert (more[0]["runs"], more[0]["failures"], more[0]["alerts"]) == (5, 2, 1)
    assert more[-1]["paused"]
    attention = texts(at)
    assert attention.index("[billing]") < attention.index("[reports]")
    assert "failing since 2024-05-01 10:01 (1 h 58 min ago)" in attention


def test_the_overview_counts_today_in_the_viewers_timezone(open_page: Open) -> None:
    at = open_page()
    at.selectbox(key="zone").set_value("Europe/Berlin").run()

    assert metrics(at)["Runs today"] == "11"
    assert "failing since 2024-05-01 12:01" in texts(at)


def test_the_overview_filters_jobs_by_owner_and_status(open_page: Open) -> None:
    at = open_page()
    at.multiselect(key="ov-owner").set_value(["data"]).run()

    assert [r["job"] for r in table(at, "why")] == [
        "?job=reports",
        "?job=adhoc-export",
        "?job=nightly-etl",
    ]
    at.multiselect(key="ov-health").set_value(["late"]).run()
    assert [r["job"] for r in table(at, "why")] == ["?job=reports"]


def test_the_runs_page_filters_by_status_and_counts_matches(open_page: Open) -> None:
    at = open_page(page="runs")

    assert len(table(at, "trigger")) == 14
    assert "14 runs match" in texts(at)
    at.multiselect(key="runs-state").set_value(["failed"]).run()
    rows = table(at, "trigger")
    assert [(r["job"], r["status"]) for r in rows] == [("?job=billing", "🔴 failed")] * 2
    assert "2 runs match" in texts(at)


def test_the_runs_page_of_a_job_comes_filtered(open_page: Open) -> None:
    at = open_page(page="runs", job="reports")

    assert [r["job"] for r in table(at, "trigger")] == ["?job=reports"] * 3


def test_the_run_detail_of_a_retried_task_shows_both_attempts(open_page: Open) -> None:
    runs = open_page(page="runs")
    retried = next(r for r in table(runs, "trigger") if r["job"] == "?job=nightly-etl")
    at = open_page(run=retried["run"].removeprefix("?run="))

    assert at.header[0].value.endswith("· nightly-etl")
    attempts = table(at, "exit code")
    assert [(a["task"], a["attempt"], a["status"], a["exit code"]) for a in attempts] == [
        ("extract", 1, "🟢 success", "0"),
        ("transform", 1, "🔴 failed", "3"),
        ("transform", 2, "🟢 success", "0"),
        ("load", 1, "🟢 success", "0"),
    ]
    assert attempts[1]["error"] == "ConnectionError: db timeout"
    page = texts(at)
    assert "ConnectionError: db timeout" in page  # the error tail
    assert "transform attempt 1: line 299" in page  # the log tail
    assert f"[{TRACE_ID}](https://tempo.example/trace/{TRACE_ID})" in page
    params = at.table[0].value.to_dict("records")
    assert {p["name"]: p["value"] for p in params} == {"api_token": "(hidden)", "day": "2024-04-30"}
    assert "s3cr3t" not in json.dumps(params) + page


def test_the_run_detail_draws_the_dag_and_the_gantt_of_attempts(open_page: Open) -> None:
    runs = open_page(page="runs", job="nightly-etl")
    at = open_page(run=table(runs, "trigger")[0]["run"].removeprefix("?run="))

    nodes, edges = _graph(at)
    assert {(n["task"], n["state"], n["attempts"]) for n in nodes} == {
        ("extract", "success", 1),
        ("transform", "success", 2),
        ("load", "success", 1),
    }
    assert edges == {("extract", "transform"), ("transform", "load")}
    bars = _chart_values(at.get("vega_lite_chart")[1].proto)
    assert [(b["attempt"], b["state"]) for b in bars] == [
        ("extract #1", "success"),
        ("transform #1", "failed"),
        ("transform #2", "success"),
        ("load #1", "success"),
    ]


def _graph(at: AppTest) -> tuple[list[dict[str, Any]], set[tuple[str, str]]]:
    """The task graph chart's nodes, and its edges as (upstream, task) names."""
    spec = json.loads(at.get("vega_lite_chart")[0].proto.spec)
    datasets = spec.get("datasets", {})

    def values(layer: dict[str, Any]) -> list[dict[str, Any]]:
        data = layer["data"]
        return list(data["values"] if "values" in data else datasets[data["name"]])

    edges_layer, nodes_layer, _labels = spec["layer"]
    nodes = values(nodes_layer)
    where = {(n["x"], n["y"]): n["task"] for n in nodes}
    edges = {(where[(e["x"], e["y"])], where[(e["x2"], e["y2"])]) for e in values(edges_layer)}
    return nodes, edges


def _chart_values(proto: Any) -> list[dict[str, Any]]:
    """The rows Streamlit sent along with a Vega-Lite spec (as Arrow data)."""
    from streamlit import dataframe_util

    frame = dataframe_util.convert_arrow_bytes_to_pandas_df(proto.data.data)
    rows: list[dict[str, Any]] = frame.to_dict("records")
    return rows


def test_the_full_log_can_be_shown(open_page: Open) -> None:
    runs = open_page(page="runs", job="nightly-etl")
    at = open_page(run=table(runs, "trigger")[0]["run"].removeprefix("?run="))
    toggles = [t for t in at.toggle if t.key and t.key.endswith("-stdout-full")]
    toggles[0].set_value(True).run()

    assert "extract attempt 1: line 0\n" in texts(at)
    assert any(b.key and b.key.endswith("-stdout-download") for b in at.get("download_button"))


def test_an_unknown_run_says_so(open_page: Open) -> None:
    at = open_page(run="999999")

    assert "There is no run #999999" in texts(at)


def test_the_job_detail_shows_percentiles_retries_and_the_schedule(open_page: Open) -> None:
    at = open_page(job="nightly-etl")

    assert at.header[0].value == "Job nightly-etl"
    shown = metrics(at)
    assert (shown["p50 duration (7 days)"], shown["p95 duration (7 days)"]) == (
        "3 min 46 s",
        "4 min 16 s",
    )
    assert shown["Runs (7 days)"] == "3"
    tasks = {t["task"]: (t["attempts"], t["retries"]) for t in table(at, "retries")}
    assert tasks == {"extract": (3, 0), "transform": (4, 1), "load": (3, 0)}
    page = texts(at)
    assert "`30 1 * * *` in Europe/Berlin" in page
    assert "Next fire times: Thu 2024-05-02 01:30 (23:30 UTC)" in page
    assert len(at.get("vega_lite_chart")) == 2


def test_the_alerts_page_shows_firing_alerts_notifications_and_silences(open_page: Open) -> None:
    at = open_page(page="alerts")

    firing, resolved = tables(at, "notifications")
    assert [(a["alert"], a["job"], a["notifications"]) for a in firing] == [
        ("JobFailed", "?job=billing", 2)
    ]
    sent = table(at, "receiver")
    assert [(n["receiver"], n["status"]) for n in sent] == [
        ("pagerduty-oncall", "failed"),
        ("slack-oncall", "sent"),
    ]
    assert "XXXXSECRET" not in json.dumps(sent)
    assert [a["alert"] for a in resolved] == ["TaskRetried"]
    assert [s["matchers"] for s in table(at, "matchers")] == ['job="cleanup"']


def test_the_sidebar_moves_between_pages(open_page: Open) -> None:
    at = open_page()
    at.button(key="nav-runs").click().run()

    assert at.query_params["page"] == "runs"
    assert at.header[0].value == "Runs"
    at.button(key="nav-alerts").click().run()
    assert at.header[0].value == "Alerts"


def test_a_missing_store_is_explained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(DB_URL_VARIABLE, f"sqlite:///{tmp_path / 'none.db'}")
    at = app_test(NOW)
    at.run()

    assert "No runwatch store at" in texts(at)
    assert not (tmp_path / "none.db").exists()


def test_a_store_at_an_old_schema_asks_for_an_upgrade(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    migrate.upgrade(url, "0003")
    monkeypatch.setenv(DB_URL_VARIABLE, url)
    at = app_test(NOW)
    at.run()

    assert "run `runwatch db upgrade`" in texts(at)


def test_a_run_of_an_older_version_of_a_job_shows_its_own_graph(
    open_page: Open, sqlite_url: str
) -> None:
    def version(edges: dict[str, tuple[str, ...]]) -> Job:
        tasks = {t: Task(t, command=("true",), after=a) for t, a in edges.items()}
        return Job(name="evolving", tasks=tasks)

    with Store.open(sqlite_url) as store:
        old = version({"extract": (), "transform": ("extract",), "load": ("transform",)})
        new = version({"extract": (), "load": ("extract",)})
        store.sync_jobs([old], NOW)
        first = store.create_run(old, NOW - timedelta(hours=2), Trigger.MANUAL, NOW)
        store.sync_jobs([new], NOW)  # the job file changed since
        second = store.create_run(new, NOW - timedelta(hours=1), Trigger.MANUAL, NOW)
    assert first is not None
    assert second is not None

    assert _graph(open_page(run=str(first.id)))[1] == {
        ("extract", "transform"),
        ("transform", "load"),
    }
    assert _graph(open_page(run=str(second.id)))[1] == {("extract", "load")}


def test_the_page_of_a_job_that_runs_after_others_says_what_it_waits_for(
    open_page: Open, sqlite_url: str
) -> None:
    def one_task(name: str, **options: Any) -> Job:
        return Job(name=name, tasks={"go": Task("go", command=("true",))}, **options)

    report = one_task(
        "report",
        schedule="0 0 * * *",
        depends_on=JobDependency(("ingest", "enrich"), Period.DAY),
    )
    upstream = {name: one_task(name) for name in ("ingest", "enrich")}
    with Store.open(sqlite_url) as store:
        store.sync_jobs([report, *upstream.values()], NOW)

        def succeed(name: str) -> None:
            run = store.create_run(upstream[name], NOW - timedelta(hours=1), Trigger.MANUAL, NOW)
            assert run is not None
            assert store.mark_run_started(run, NOW)
            store.mark_run_finished(run, RunState.SUCCESS, NOW)

        succeed("ingest")
        waiting = open_page(job="report")
        succeed("enrich")
    ready = open_page(job="report")

    assert "after `ingest`, `enrich`, once per day" in texts(waiting)
    assert [w.value for w in waiting.warning] == [
        "The run for the period from Wed 2024-05-01 00:00 waits for `enrich`."
    ]
    assert not ready.warning
    assert "Nothing to wait for in the period from Wed 2024-05-01 00:00." in texts(ready)
