"""Rule kinds, alert identity and templates, evaluated in memory with a fixed clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from alerting.alerts import Alert, fingerprint
from alerting.evaluation import Evaluator
from alerting.job_facts import JobInfo
from alerting.matchers import MatchOp, parse_matcher
from alerting.templates import render
from runner.events import (
    AttemptFailed,
    AttemptSucceeded,
    AttemptTimedOut,
    Event,
    RunCancelled,
    RunFailed,
    RunOverdue,
    RunQueued,
    RunStarted,
    RunSucceeded,
)
from tests.alerting.conftest import T0, config

INFO = {
    "nightly-etl": JobInfo("data-eng", ("etl", "warehouse")),
    "ml-train": JobInfo("ml-team", ("ml",)),
}


class World:
    """An evaluator over events given by hand, at a clock we move."""

    def __init__(self, *rules: dict[str, Any], **extra: Any) -> None:
        raw = {
            "receivers": {"team": {"memory": {}}},
            "route": {"receiver": "team", "group_wait": "0s", "group_interval": "0s"},
            "rules": list(rules),
            **extra,
        }
        self.evaluator = Evaluator(config(raw), infos=INFO)
        self.now = T0

    def at(self, minutes: float) -> datetime:
        self.now = T0 + timedelta(minutes=minutes)
        return self.now

    def send(self, cls: type[Event], job: str = "nightly-etl", **fields: Any) -> None:
        self.evaluator.process([cls(at=self.now, job=job, **fields)])

    def tick(self) -> None:
        self.evaluator.tick(self.now)

    def firing(self) -> list[Alert]:
        return sorted(self.evaluator.book.firing(), key=lambda a: a.alertname)

    def names(self) -> list[str]:
        return sorted(a.alertname + (f"/{a.task}" if a.task else "") for a in self.firing())


def test_matchers_follow_alertmanager_semantics() -> None:
    labels = {"owner": "ml-team", "severity": "critical"}
    assert parse_matcher("owner =~ ml-.*").matches(labels)
    assert not parse_matcher("owner =~ ml").matches(labels)  # anchored
    assert parse_matcher('severity="critical"').op is MatchOp.EQUAL
    assert parse_matcher("severity != warning").matches(labels)
    assert parse_matcher("team = ").matches(labels)  # absent reads as empty
    assert parse_matcher("owner !~ data-.*").matches(labels)
    assert str(parse_matcher("owner=~ml-.*")) == 'owner=~"ml-.*"'


def test_templates_fill_known_fields_and_leave_unknown_ones_empty_without_running_code() -> None:
    fields = {"job": "etl", "attempt": 2, "task": None}
    assert render("{job} failed at {task} (attempt {attempt}){missing}", fields) == (
        "etl failed at  (attempt 2)"
    )
    assert render("{job.__class__} {{literal}} {0}", fields) == "{job.__class__} {literal} {0}"


def test_repeated_failures_of_a_job_are_one_alert_with_a_stable_fingerprint() -> None:
    world = World({"alert": "JobFailed", "when": "run_failed", "severity": "critical"})
    world.send(RunFailed, run_id=1, failed_tasks=["load"])
    world.send(RunFailed, run_id=2, failed_tasks=["load"])
    (alert,) = world.firing()
    assert alert.fingerprint == fingerprint(
        {"alertname": "JobFailed", "severity": "critical", "job": "nightly-etl"}
    )
    assert "run_id" not in alert.labels
    assert alert.details["run_id"] == 2
    assert alert.starts_at == T0.timestamp()


def test_rule_matchers_select_jobs_by_their_labels() -> None:
    world = World(
        {"alert": "WarehouseFailed", "when": "run_failed", "matchers": ["tags =~ .*warehouse.*"]}
    )
    world.send(RunFailed, "ml-train", run_id=1)
    world.send(RunFailed, "nightly-etl", run_id=2)
    assert [a.job for a in world.firing()] == ["nightly-etl"]


def test_task_failed_fires_on_the_final_failure_only_and_resolves_when_the_task_succeeds() -> None:
    world = World(
        {"alert": "TaskFailed", "when": "task_failed"},
        {"alert": "RetriesExhausted", "when": "retries_exhausted"},
    )
    world.send(AttemptFailed, run_id=1, task="load", attempt=1, will_retry=True)
    assert world.names() == []
    world.send(AttemptTimedOut, run_id=1, task="load", attempt=2)
    world.send(AttemptFailed, run_id=1, task="extract", attempt=1)
    assert world.names() == ["RetriesExhausted/load", "TaskFailed/extract", "TaskFailed/load"]
    world.send(AttemptSucceeded, run_id=2, task="load", attempt=1)
    assert world.names() == ["TaskFailed/extract"]
    world.send(RunSucceeded, run_id=2)
    assert world.names() == []


def test_consecutive_failures_fires_at_the_threshold_and_resolves_on_success() -> None:
    world = World({"alert": "JobFailing", "when": "consecutive_failures", "threshold": 3})
    for run_id in (1, 2):
        world.send(RunFailed, run_id=run_id)
    world.send(RunCancelled, run_id=3)  # neither a failure nor a success
    assert world.names() == []
    world.send(RunFailed, run_id=4)
    assert world.names() == ["JobFailing"]
    assert world.firing()[0].annotations["summary"] == "job nightly-etl failed 3 times in a row"
    world.send(RunSucceeded, run_id=5)
    assert world.names() == []


def test_duration_exceeded_fires_while_the_run_is_still_going_and_resolves_on_a_fast_run() -> None:
    world = World({"alert": "SlowJob", "when": "duration_exceeded", "threshold": "45m"})
    world.send(RunStarted, run_id=1, logical_time=T0)
    world.at(45)
    world.tick()
    assert world.names() == []
    world.at(46)
    world.tick()
    assert world.names() == ["SlowJob"]
    assert world.firing()[0].annotations["summary"] == (
        "job nightly-etl ran longer than 45m00s (run 1: 45m00s)"
    )
    assert world.firing()[0].starts_at == (T0 + timedelta(minutes=45)).timestamp()
    world.send(RunSucceeded, run_id=1, duration_seconds=50 * 60)
    assert world.names() == ["SlowJob"]
    world.send(RunSucceeded, run_id=2, duration_seconds=60)
    assert world.names() == []


def test_deadline_missed_fires_when_a_run_has_not_succeeded_in_time() -> None:
    world = World({"alert": "Late", "when": "deadline_missed", "deadline": "2h"})
    world.send(RunQueued, run_id=1, logical_time=T0)
    world.at(120)
    world.tick()
    assert world.names() == []
    world.at(121)
    world.tick()
    assert world.names() == ["Late"]
    world.send(RunSucceeded, run_id=1)
    assert world.names() == []


def test_stale_fires_after_for_without_success_and_skips_paused_jobs() -> None:
    world = World({"alert": "NoSuccess", "when": "stale", "for": "26h"})
    world.evaluator.infos = {**INFO, "paused-job": JobInfo(paused=True)}
    world.send(RunSucceeded, run_id=1)
    world.tick()  # jobs that never ran count from when the engine first saw them
    world.at(26 * 60)
    world.tick()
    assert world.names() == []
    world.at(26 * 60 + 1)
    world.tick()
    assert sorted(a.job for a in world.firing()) == ["ml-train", "nightly-etl"]
    world.send(RunSucceeded, run_id=2)
    assert [a.job for a in world.firing()] == ["ml-train"]


def test_run_overdue_fires_from_its_event_and_resolves_when_the_run_ends() -> None:
    world = World({"alert": "Overdue", "when": "run_overdue"})
    world.send(RunOverdue, run_id=1, expected_seconds=600)
    assert world.firing()[0].annotations["summary"] == (
        "job nightly-etl runs longer than expected (10m00s)"
    )
    world.send(RunFailed, run_id=1)
    assert world.names() == []


def test_rule_labels_join_the_identity_and_annotations_render_from_the_event() -> None:
    world = World(
        {
            "alert": "JobFailed",
            "when": "run_failed",
            "labels": {"team": "data"},
            "annotations": {
                "summary": "{job} failed at {task} (attempt {attempt})",
                "runbook": "https://wiki/{alertname}/{nope}",
            },
        }
    )
    world.send(AttemptFailed, run_id=9, task="load", attempt=2, exit_code=1, error="x" * 5000)
    world.send(RunFailed, run_id=9, failed_tasks=["load"])
    (alert,) = world.firing()
    assert alert.labels["team"] == "data"
    assert alert.annotations == {
        "summary": "nightly-etl failed at load (attempt 2)",
        "runbook": "https://wiki/JobFailed/",
    }
    assert len(alert.details["error"]) == 1000
    assert alert.details["exit_code"] == 1
