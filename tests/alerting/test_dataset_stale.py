"""`when: dataset_stale`: a dataset not updated for the rule's `for` fires one alert per
dataset (labels: dataset, namespace, the producing job and task, owner), through the
real engine, outbox and Slack receiver to a loopback Slack; its next update resolves it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from alerting import AlertEngine, Sender
from alerting.state import load_alerts
from runner.dataset_names import Dataset
from runner.errors import DefinitionError
from runner.model import Job, Task, TaskState, Trigger
from runner.store.store import Store
from tests.alerting.conftest import FixedClock, RecordingServer, config

ORDERS = Dataset("postgres://warehouse:5432", "analytics.public.orders")
REPORT = Dataset("s3://reports", "daily/orders.csv")
LOAD = Task("load", command=("true",), outputs=(ORDERS, REPORT), retries=1)
JOB = Job("nightly-etl", {"load": LOAD}, owner="data-eng")
DAY = 24 * 3600.0


def raw(server: RecordingServer) -> dict[str, Any]:
    return {
        "receivers": {"data-team": {"slack": {"webhook_url": f"{server.url}/services/T/B/X"}}},
        "route": {
            "receiver": "data-team",
            "group_by": ["alertname", "dataset"],
            "group_wait": "0s",
            "group_interval": "0s",
        },
        "rules": [
            {"alert": "DatasetStale", "when": "dataset_stale", "for": "26h", "severity": "error"}
        ],
    }


def attempt(store: Store, clock: FixedClock, state: TaskState) -> int:
    """A run of the job whose one attempt ends in ``state`` now; its run id."""
    run = store.create_run(JOB, clock.now, Trigger.SCHEDULE, clock.now)
    assert run is not None
    started = store.start_attempt(run, "load", clock.now)
    assert started is not None
    store.finish_attempt(started, state, clock.now)
    return run.id


def cycle(engine: AlertEngine, sender: Sender, clock: FixedClock, seconds: float) -> None:
    engine.evaluate(clock.advance(seconds))
    sender.deliver_due()


def test_a_stale_dataset_pages_once_per_dataset_and_its_next_update_resolves_it(
    store: Store, clock: FixedClock, http_server: RecordingServer
) -> None:
    cfg = config(raw(http_server))
    engine, sender = AlertEngine(store, cfg, clock=clock), Sender(store, cfg, clock=clock)
    store.sync_jobs([JOB], clock.now)
    updated_at = clock.now
    attempt(store, clock, TaskState.SUCCESS)
    cycle(engine, sender, clock, 0)
    cycle(engine, sender, clock, DAY + 2 * 3600 - 1)  # 25h59m59s: fresh still
    assert http_server.requests == []

    attempt(store, clock, TaskState.FAILED)  # a failed attempt updates nothing
    cycle(engine, sender, clock, 2)
    firing = sorted((a for a in load_alerts(store) if a.firing), key=lambda a: a.labels["dataset"])
    assert [a.labels for a in firing] == [
        {
            "alertname": "DatasetStale",
            "severity": "error",
            "job": "nightly-etl",
            "task": "load",
            "owner": "data-eng",
            "namespace": namespace,
            "dataset": name,
        }
        for namespace, name in ((ORDERS.namespace, ORDERS.name), (REPORT.namespace, REPORT.name))
    ]
    assert firing[0].starts_at == (updated_at + timedelta(hours=26)).timestamp()
    assert firing[0].annotations["summary"] == (
        "dataset postgres://warehouse:5432/analytics.public.orders has not been updated "
        "for 26h00m (by nightly-etl/load)"
    )
    assert len(http_server.requests) == 2  # one group per dataset
    texts = sorted(r.json["text"] for r in http_server.requests)
    assert texts == [
        "[FIRING:1] DatasetStale (alertname=DatasetStale, dataset=analytics.public.orders)",
        "[FIRING:1] DatasetStale (alertname=DatasetStale, dataset=daily/orders.csv)",
    ]
    cycle(engine, sender, clock, 3600)
    assert len(http_server.requests) == 2  # not paged again

    run_id = attempt(store, clock, TaskState.SUCCESS)
    cycle(engine, sender, clock, 1)
    assert not any(a.firing for a in load_alerts(store))
    resolved = http_server.requests[2:]
    assert sorted(r.json["text"][:11] for r in resolved) == ["[RESOLVED] "] * 2
    assert all(a.details.get("recovered_by_run") == run_id for a in load_alerts(store))


def test_dataset_stale_needs_a_for_duration() -> None:
    rule = {"alert": "DatasetStale", "when": "dataset_stale"}
    with pytest.raises(DefinitionError, match=r"for.*required by dataset_stale \(a duration\)"):
        config({"receivers": {"r": {"memory": {}}}, "route": {"receiver": "r"}, "rules": [rule]})


def test_matchers_pick_the_datasets_a_rule_watches(
    store: Store, clock: FixedClock, http_server: RecordingServer
) -> None:
    settings = raw(http_server)
    settings["rules"][0]["matchers"] = ['dataset =~ "analytics\\..*"', "owner = data-eng"]
    cfg = config(settings)
    engine = AlertEngine(store, cfg, clock=clock)
    store.sync_jobs([JOB], clock.now)
    attempt(store, clock, TaskState.SUCCESS)
    engine.evaluate(clock.advance(27 * 3600))
    assert [a.labels["dataset"] for a in load_alerts(store) if a.firing] == [ORDERS.name]
