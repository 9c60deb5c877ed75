"""Routing, grouping timers, repeats, flapping, inhibition and maintenance windows, in
memory with a fixed clock (no sleeping)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from alerting.evaluation import Evaluator
from alerting.job_facts import JobInfo
from alerting.matchers import parse_matcher
from alerting.notification import Notification, NotifiedStatus
from alerting.silences import Silence
from runner.events import AttemptFailed, Event, RunFailed, RunSucceeded
from tests.alerting.conftest import T0, config

INFO = {
    "nightly-etl": JobInfo("data-eng"),
    "hourly-sync": JobInfo("data-eng"),
    "ml-train": JobInfo("ml-team"),
}
RULES = [
    {"alert": "JobFailed", "when": "run_failed", "severity": "error"},
    {"alert": "TaskFailed", "when": "task_failed", "severity": "warning"},
]


class Timeline:
    """Events and ticks at given minutes; collects every notification per receiver."""

    def __init__(self, route: dict[str, Any], **extra: Any) -> None:
        raw = {
            "receivers": {"team": {"memory": {}}, "oncall": {"memory": {}}, "ml": {"memory": {}}},
            "route": route,
            "rules": extra.pop("rules", RULES),
            **extra,
        }
        self.evaluator = Evaluator(config(raw), infos=INFO)
        self.sent: list[Notification] = []
        self.now = T0

    def at(self, minutes: float) -> datetime:
        self.now = T0 + timedelta(minutes=minutes)
        self.sent += self.evaluator.settle(self.now)
        return self.now

    def send(self, cls: type[Event], job: str = "nightly-etl", **fields: Any) -> None:
        self.sent += self.evaluator.advance([cls(at=self.now, job=job, **fields)])
        self.sent += self.evaluator.settle(self.now)

    def to(self, receiver: str) -> list[str]:
        return [n.title for n in self.sent if n.receiver == receiver]


def test_group_wait_batches_alerts_of_one_group_into_one_notification() -> None:
    line = Timeline(
        {"receiver": "team", "group_by": ["owner"], "group_wait": "30s", "group_interval": "5m"}
    )
    line.send(RunFailed, "nightly-etl", run_id=1)
    line.at(0.25)
    line.send(RunFailed, "hourly-sync", run_id=2)
    line.send(RunFailed, "ml-train", run_id=3)
    assert line.sent == []
    line.at(0.5)
    assert line.to("team") == ["[FIRING:2] JobFailed (owner=data-eng)"]
    line.at(0.75)
    assert line.to("team")[1:] == ["[FIRING:1] JobFailed (owner=ml-team)"]


def test_later_changes_wait_for_group_interval_and_arrive_together() -> None:
    line = Timeline(
        {"receiver": "team", "group_by": ["owner"], "group_wait": "0s", "group_interval": "5m"}
    )
    line.send(RunFailed, "nightly-etl", run_id=1)
    line.at(1)
    line.send(RunFailed, "hourly-sync", run_id=2)
    line.at(2)
    line.send(RunSucceeded, "nightly-etl", run_id=3)
    line.at(4.9)
    assert len(line.sent) == 1
    line.at(5)
    (second,) = line.sent[1:]
    assert {(a.labels["job"], a.status, a.changed) for a in second.alerts} == {
        ("hourly-sync", NotifiedStatus.FIRING, True),
        ("nightly-etl", NotifiedStatus.RESOLVED, True),
    }


def test_a_still_firing_alert_is_sent_again_only_after_repeat_interval() -> None:
    line = Timeline(
        {"receiver": "team", "group_wait": "0s", "group_interval": "1m", "repeat_interval": "4h"}
    )
    line.send(RunFailed, run_id=1)
    for minutes in range(10, 240, 10):
        line.send(RunFailed, run_id=minutes)
        line.at(minutes)
    assert len(line.sent) == 1
    line.at(240)
    assert len(line.sent) == 2
    assert line.sent[1].repeat
    assert [a.changed for a in line.sent[1].alerts] == [False]


def test_continue_lets_a_critical_alert_reach_oncall_and_a_later_matching_route() -> None:
    route = {
        "receiver": "team",
        "group_wait": "0s",
        "routes": [
            {"matchers": ["severity = critical"], "receiver": "oncall", "continue": True},
            {"matchers": ["owner =~ ml-.*"], "receiver": "ml"},
        ],
    }
    rules = [{"alert": "JobFailed", "when": "run_failed", "severity": "critical"}]
    line = Timeline(route, rules=rules)
    line.send(RunFailed, "nightly-etl", run_id=1)
    line.send(RunFailed, "ml-train", run_id=2)
    assert line.to("oncall") == [
        "[FIRING:1] JobFailed (job=nightly-etl)",
        "[FIRING:1] JobFailed (job=ml-train)",
    ]
    assert line.to("ml") == ["[FIRING:1] JobFailed (job=ml-train)"]
    assert line.to("team") == []  # a child took them, so the root does not


def test_an_inhibited_alert_is_not_sent_while_its_source_fires() -> None:
    inhibit = [
        {
            "source_matchers": ["alertname = JobFailed"],
            "target_matchers": ["alertname = TaskFailed"],
            "equal": ["job", "run_id"],
        }
    ]
    line = Timeline(
        {"receiver": "team", "group_by": ["alertname", "job"], "group_wait": "10s"},
        inhibit_rules=inhibit,
    )
    line.send(AttemptFailed, run_id=1, task="load", attempt=1)
    line.send(RunFailed, run_id=1, failed_tasks=["load"])
    line.send(AttemptFailed, "ml-train", run_id=2, task="fit", attempt=1)
    line.at(1)
    assert sorted(line.to("team")) == [
        "[FIRING:1] JobFailed (alertname=JobFailed, job=nightly-etl)",
        "[FIRING:1] TaskFailed (alertname=TaskFailed, job=ml-train)",
    ]


def test_a_silenced_alert_is_held_back_until_the_silence_ends() -> None:
    line = Timeline({"receiver": "team", "group_wait": "0s", "group_interval": "1m"})
    line.evaluator.silences = [
        Silence(
            1,
            (parse_matcher("job = nightly-etl"),),
            T0,
            T0 + timedelta(hours=2),
            "ana",
            "migration",
            T0,
        )
    ]
    line.send(RunFailed, run_id=1)
    line.at(119)
    assert line.sent == []
    assert [a.alertname for a in line.evaluator.book.firing()] == ["JobFailed"]
    line.at(120)
    assert line.to("team") == ["[FIRING:1] JobFailed (job=nightly-etl)"]


def test_a_maintenance_window_mutes_alerts_only_during_the_window() -> None:
    maintenance = [
        {
            "name": "sunday",
            "schedule": "0 3 * * 1",
            "duration": "1h",
            "matchers": ["job = nightly-etl"],
        }
    ]  # T0 is Monday 03:00 UTC
    line = Timeline(
        {"receiver": "team", "group_wait": "0s", "group_interval": "1m"}, maintenance=maintenance
    )
    line.send(RunFailed, run_id=1)
    line.send(RunFailed, "hourly-sync", run_id=2)
    assert line.to("team") == ["[FIRING:1] JobFailed (job=hourly-sync)"]
    line.at(59)
    line.send(AttemptFailed, run_id=3, task="t", attempt=1)
    line.at(61)
    assert line.to("team")[1:] == ["[FIRING:2] JobFailed, TaskFailed (job=nightly-etl)"]


def test_a_flapping_alert_is_marked_flapping_and_still_reports_every_recovery() -> None:
    line = Timeline(
        {"receiver": "team", "group_wait": "0s", "group_interval": "0s"},
        flap_threshold=2,
        flap_window="1h",
        rules=[{"alert": "JobFailed", "when": "run_failed"}],
    )
    for i in range(6):
        line.at(i * 5)
        line.send(RunFailed, run_id=2 * i)
        line.at(i * 5 + 2)
        line.send(RunSucceeded, run_id=2 * i + 1)
    assert [t.split(" ")[0] for t in line.to("team")] == [
        "[FIRING:1]",
        "[RESOLVED]",
        "[FIRING:1]",
        "[RESOLVED]",
        *["[FLAPPING]", "[RESOLVED]"] * 4,
    ]
    (alert,) = line.evaluator.book.alerts.values()
    assert alert.flapping
    line.at(27 + 61)  # an hour without firing: flapping ends; the receiver knows it resolved
    assert len(line.to("team")) == 12
    assert not alert.flapping
