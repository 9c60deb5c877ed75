"""OpenLineage RunEvents of real runs, sent by the real openlineage-python client (its
HTTP transport, configured by OPENLINEAGE_URL) to a local endpoint: START before
COMPLETE or FAIL, parent-run facets linking attempts to their run, the error message on
failure, the declared datasets; an endpoint that is down or slow fails nothing."""

from __future__ import annotations

import json
import queue
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openlineage.client import OpenLineageClient
from openlineage.client.event_v2 import InputDataset, OutputDataset, RunEvent, RunState
from openlineage.client.event_v2 import Job as OLJob
from openlineage.client.event_v2 import Run as OLRun
from openlineage.client.facet_v2 import error_message_run, nominal_time_run, parent_run
from openlineage.client.serde import Serde
from prometheus_client import CollectorRegistry

from runner.clock import utcnow
from runner.dataset_names import Dataset
from runner.engine.engine import Engine
from runner.engine.executor import Message
from runner.executors.local.executor import LocalExecutor
from runner.lineage.config import lineage_configured
from runner.lineage.consumer import LineageConsumer, LineageLoop, start_lineage
from runner.lineage.emitter import LineageEmitter
from runner.lineage.metrics import LineageMetrics
from runner.lineage.run_events import attempt_uuid, run_uuid
from runner.model import Job, Task, Trigger
from runner.model import RunState as RunwatchState
from runner.store.records import RunRecord
from runner.store.store import Store
from tests.e2e.cli import free_port
from tests.runner.lineage.endpoint import DEADLINE, Endpoint, endpoint

__all__ = ["endpoint"]  # the fixture

ORDERS = Dataset("postgres://warehouse:5432", "analytics.public.orders")
RAW = Dataset("file", "/data/in/orders.csv")
CLIENT_FACETS = {"tags"}
"""Run facets the client itself adds to every event."""
SPEC = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"


class Runner:
    def __init__(self, store: Store, tmp: Path) -> None:
        self.store = store
        messages: queue.SimpleQueue[Message] = queue.SimpleQueue()
        self.engine = Engine(store, LocalExecutor(messages), messages, log_dir=tmp / "logs")

    def run(self, job: Job) -> RunRecord:
        now = utcnow()
        self.store.sync_jobs([job], now)
        run = self.store.create_run(job, now, Trigger.MANUAL, now)
        assert run is not None
        return self.engine.execute(job, run)


@pytest.fixture
def runner(store: Store, tmp_path: Path) -> Iterator[Runner]:
    made = Runner(store, tmp_path)
    yield made
    made.engine.close()


def etl(tmp_path: Path) -> Job:
    once = tmp_path / "once"
    extract = Task("extract", command=("true",), inputs=(RAW,), outputs=(ORDERS,))
    load = Task(
        "load",
        command=f"[ -e {once} ] || {{ touch {once}; echo boom >&2; exit 3; }}",
        after=("extract",),
        inputs=(ORDERS,),
        retries=1,
        retry_delay=0.01,
    )
    return Job(name="etl", tasks={"extract": extract, "load": load})


def named(datasets: list[dict[str, Any]]) -> list[Dataset]:
    return [Dataset(d["namespace"], d["name"]) for d in datasets]


def checked(data: dict[str, Any]) -> RunEvent:
    """The event rebuilt with the client's own spec classes (generated from the
    OpenLineage spec), whose validators check the run ids (UUIDs), the times (ISO 8601),
    the producer (a URI) and the schema URLs; serialized again it must be the very JSON
    received, so nothing was sent outside the spec's model."""
    raw_facets = data["run"].get("facets", {})
    facets: dict[str, Any] = {}
    if "parent" in raw_facets:
        parent = raw_facets["parent"]
        facets["parent"] = parent_run.ParentRunFacet(
            run=parent_run.Run(runId=parent["run"]["runId"]),
            job=parent_run.Job(namespace=parent["job"]["namespace"], name=parent["job"]["name"]),
        )
    if "errorMessage" in raw_facets:
        error = raw_facets["errorMessage"]
        facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=error["message"], programmingLanguage=error["programmingLanguage"]
        )
    if "nominalTime" in raw_facets:
        facets["nominalTime"] = nominal_time_run.NominalTimeRunFacet(
            nominalStartTime=raw_facets["nominalTime"]["nominalStartTime"]
        )
    event = RunEvent(
        eventType=RunState(data["eventType"]),
        eventTime=data["eventTime"],
        run=OLRun(runId=data["run"]["runId"], facets=facets),
        job=OLJob(namespace=data["job"]["namespace"], name=data["job"]["name"]),
        producer=data["producer"],
        inputs=[InputDataset(d["namespace"], d["name"]) for d in data["inputs"]],
        outputs=[OutputDataset(d["namespace"], d["name"]) for d in data["outputs"]],
    )
    assert data["schemaURL"] == SPEC == event.schemaURL
    # the client adds facets of its own as it emits (its version as a tag); the rest is ours
    added = set(raw_facets) - set(facets)
    assert added <= CLIENT_FACETS, added
    sent = {**data, "run": {**data["run"], "facets": {k: raw_facets[k] for k in facets}}}
    assert json.loads(Serde.to_json(event)) == sent
    return event


def test_runs_and_attempts_become_run_events_in_order_with_parents_errors_and_datasets(
    db_url: str,
    runner: Runner,
    endpoint: Endpoint,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENLINEAGE_URL", endpoint.url)
    reader = Store.open(db_url, migrate=False, recover=False)
    loop = start_lineage(reader, "prod")
    try:
        run = runner.run(etl(tmp_path))
        failed = runner.run(Job(name="broken", tasks={"t": Task("t", command="exit 7")}))
        # etl: run START/COMPLETE, extract START/COMPLETE, load 2x START + FAIL/COMPLETE;
        # broken: run START/FAIL, t START/FAIL
        received = endpoint.wait_for(12)
    finally:
        loop.stop()
        reader.close()
    assert run.state is RunwatchState.SUCCESS
    assert failed.state is RunwatchState.FAILED
    events = [checked(e) for e in received]
    by_run: dict[str, list[str]] = {}
    for e in received:
        by_run.setdefault(e["run"]["runId"], []).append(e["eventType"])
    etl_run = run_uuid("prod", run.id)
    assert by_run[etl_run] == ["START", "COMPLETE"]
    assert by_run[attempt_uuid("prod", run.id, "extract", 1)] == ["START", "COMPLETE"]
    assert by_run[attempt_uuid("prod", run.id, "load", 1)] == ["START", "FAIL"]
    assert by_run[attempt_uuid("prod", run.id, "load", 2)] == ["START", "COMPLETE"]
    assert by_run[run_uuid("prod", failed.id)] == ["START", "FAIL"]
    assert len(events) == 12

    load_fail = next(
        e for e in received
        if e["job"]["name"] == "etl.load" and e["eventType"] == "FAIL"
    )  # fmt: skip
    assert load_fail["job"]["namespace"] == "prod"
    assert load_fail["run"]["facets"]["parent"]["run"]["runId"] == etl_run
    parent_job = load_fail["run"]["facets"]["parent"]["job"]
    assert (parent_job["namespace"], parent_job["name"]) == ("prod", "etl")
    assert "boom" in load_fail["run"]["facets"]["errorMessage"]["message"]
    assert named(load_fail["inputs"]) == [ORDERS]
    extract = next(e for e in received if e["job"]["name"] == "etl.extract")
    assert named(extract["inputs"]) == [RAW]
    assert named(extract["outputs"]) == [ORDERS]
    run_start = next(e for e in received if e["run"]["runId"] == etl_run)
    assert "parent" not in run_start["run"]["facets"]
    assert run_start["run"]["facets"]["nominalTime"]["nominalStartTime"]
    assert {d["name"] for d in run_start["outputs"]} == {ORDERS.name}
    broken_fail = next(
        e for e in received
        if e["run"]["runId"] == run_uuid("prod", failed.id) and e["eventType"] == "FAIL"
    )  # fmt: skip
    assert broken_fail["run"]["facets"]["errorMessage"]["message"]


def test_an_endpoint_that_is_down_fails_no_run_and_counts_the_failures(
    db_url: str, runner: Runner, tmp_path: Path
) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    client = OpenLineageClient(
        config={"transport": {"type": "http", "url": url, "timeout": 1, "retry": {"total": 0}}}
    )
    emitter = LineageEmitter(lambda: client)
    reader = Store.open(db_url, migrate=False, recover=False)
    loop = LineageLoop(LineageConsumer(reader, emitter, "runwatch"))
    loop.start()
    try:
        run = runner.run(etl(tmp_path))
        deadline = time.monotonic() + DEADLINE
        while emitter.failed < 8 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        loop.stop(timeout=1)
        reader.close()
    assert run.state is RunwatchState.SUCCESS
    assert emitter.failed >= 8
    assert emitter.sent == 0
    registry = CollectorRegistry()
    registry.register(LineageMetrics(emitter))
    counted = "runwatch_openlineage_events_total"
    assert registry.get_sample_value(counted, {"status": "failed"}) == emitter.failed
    assert registry.get_sample_value(counted, {"status": "dropped"}) == 0


def test_a_full_queue_drops_events_and_counts_them(endpoint: Endpoint) -> None:
    endpoint.hold.clear()  # the endpoint answers nothing until released: the sender waits
    client = OpenLineageClient(config={"transport": {"type": "http", "url": endpoint.url}})
    emitter = LineageEmitter(lambda: client, capacity=2)
    event = RunEvent(
        eventType=RunState.START,
        eventTime=utcnow().isoformat(),
        run=OLRun(runId=run_uuid("x", 1)),
        job=OLJob(namespace="x", name="j"),
        producer="https://example.com/p",
    )
    offered = [emitter.offer(event) for _ in range(10)]
    assert offered.count(False) >= 7  # one in flight, two queued, the rest dropped
    assert emitter.dropped == offered.count(False)
    endpoint.hold.set()
    emitter.close()
    assert emitter.sent == offered.count(True)


def test_lineage_is_off_unless_configured(tmp_path: Path) -> None:
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    cwd.mkdir()
    assert not lineage_configured({}, cwd, home)
    assert lineage_configured({"OPENLINEAGE_URL": "http://x"}, cwd, home)
    assert not lineage_configured(
        {"OPENLINEAGE_URL": "http://x", "OPENLINEAGE_DISABLED": "true"}, cwd, home
    )
    assert lineage_configured({"OPENLINEAGE__TRANSPORT__TYPE": "console"}, cwd, home)
    (cwd / "openlineage.yml").write_text("transport: {type: console}\n")
    assert lineage_configured({}, cwd, home)


def test_an_openlineage_yml_with_the_file_transport_is_used_as_the_client_reads_it(
    db_url: str, runner: Runner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "serve-cwd"
    folder.mkdir()
    events = folder / "lineage.jsonl"
    (folder / "openlineage.yml").write_text(
        f"transport:\n  type: file\n  log_file_path: {events}\n  append: true\n"
    )
    monkeypatch.chdir(folder)
    for name in ("OPENLINEAGE_URL", "OPENLINEAGE_CONFIG", "OPENLINEAGE_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    assert lineage_configured({}, folder, tmp_path / "home")
    reader = Store.open(db_url, migrate=False, recover=False)
    loop = start_lineage(reader, "from-yml")
    try:
        run = runner.run(Job(name="one", tasks={"t": Task("t", command=("true",))}))
        deadline = time.monotonic() + DEADLINE
        while time.monotonic() < deadline and (
            not events.exists() or len(events.read_text().splitlines()) < 4
        ):
            time.sleep(0.02)
    finally:
        loop.stop()
        reader.close()
    written = [json.loads(line) for line in events.read_text().splitlines()]
    assert [(e["job"]["name"], e["eventType"]) for e in written] == [
        ("one", "START"),
        ("one.t", "START"),
        ("one.t", "COMPLETE"),
        ("one", "COMPLETE"),
    ]
    assert {e["job"]["namespace"] for e in written} == {"from-yml"}
    assert written[0]["run"]["runId"] == run_uuid("from-yml", run.id)
