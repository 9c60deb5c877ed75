"""Timing scenarios fed to runwatch and to a real Prometheus Alertmanager alike, counting
the notifications each receiver gets. Time is scaled down (group_wait 1s, group_interval
2s) so each scenario takes seconds; Alertmanager runs in real time, and runwatch's
engine replays the same actions at the moments they were posted to Alertmanager.

Counts must be equal (docs/alerting.md lists them).
"""

from __future__ import annotations

import json
import time
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alerting.evaluation import Evaluator
from alerting.job_facts import JobInfo
from alerting.matchers import parse_matcher
from alerting.silences import Silence
from runner.clock import utcnow
from runner.events import Event, RunFailed, RunSucceeded
from tests.alerting.conftest import RecordingServer, config
from tests.alerting.test_alertmanager import Alertmanager

GROUP_WAIT, GROUP_INTERVAL = 1.0, 2.0
"""Alertmanager flushes a group GROUP_WAIT after its first alert, then every
GROUP_INTERVAL: at 1, 3, 5, 7 s. Every step that changes a group falls on an even
second, a second from the ticks either side (the 0.2 s repeats of an alert already
firing change nothing), so neither tool's count depends on which side of a tick a post
lands. A resolve posted *at* a tick let
Alertmanager flush between the critical alert's resolve and the warning's, and
notify the no-longer-inhibited warning: one notification more on a loaded machine."""


@dataclass(frozen=True)
class Step:
    """At ``at`` seconds: ``fire``/``resolve`` the failure alert(s) of ``jobs``, or
    ``silence`` them."""

    at: float
    action: str
    jobs: tuple[str, ...]


@dataclass(frozen=True)
class Scenario:
    name: str
    group_by: tuple[str, ...]
    steps: tuple[Step, ...]
    count: int  # notifications the on-call person gets (both tools agree on it)
    inhibit: bool = False


ABC = ("a", "b", "c")
TOGETHER = (Step(0, "fire", ABC), Step(4, "resolve", ABC))
"""Three jobs failing together, recovering together."""
SCENARIOS = [
    *(
        Scenario(f"three jobs failing together, group_by {by}", (by,), TOGETHER, count=count)
        for by, count in (("severity", 2), ("job", 6), ("...", 6))
    ),
    Scenario(
        "one job failing every 0.2 s for 6 s",
        ("job",),
        (*(Step(i / 5, "fire", ("a",)) for i in range(30)), Step(6, "resolve", ("a",))),
        count=2,
    ),
    Scenario(
        "fail then recover",
        ("job",),
        (Step(0, "fire", ("a",)), Step(2, "resolve", ("a",))),
        count=2,
    ),
    Scenario(
        "a silence while firing",
        ("severity",),
        (
            Step(0, "fire", ("a",)),
            Step(2, "silence", ("a",)),
            Step(2, "fire", ("b",)),
            Step(4, "resolve", ("a", "b")),
        ),
        count=3,
    ),
    Scenario(
        "inhibition of a warning by a critical alert of the same job",
        ("job",),
        (Step(0, "fire", ("a",)), Step(4, "resolve", ("a",))),
        count=2,
        inhibit=True,
    ),
]


def am_config(scenario: Scenario, hook: str) -> str:
    route = {
        "receiver": "hook",
        "group_by": list(scenario.group_by),
        "group_wait": f"{GROUP_WAIT:g}s",
        "group_interval": f"{GROUP_INTERVAL:g}s",
        "repeat_interval": "1h",
    }
    body: dict[str, Any] = {
        "route": route,
        "receivers": [{"name": "hook", "webhook_configs": [{"url": hook}]}],
    }
    if scenario.inhibit:
        body["inhibit_rules"] = [INHIBIT]
    return json.dumps(body)  # JSON is YAML


INHIBIT = {
    "source_matchers": ["severity=critical"],
    "target_matchers": ["severity=warning"],
    "equal": ["job"],
}


def runwatch_config(scenario: Scenario) -> Any:
    rules = [{"alert": "JobFailed", "when": "run_failed", "severity": "warning"}]
    if scenario.inhibit:
        rules.append(
            {
                "alert": "JobFailing",
                "when": "consecutive_failures",
                "threshold": 1,
                "severity": "critical",
            }
        )
    raw: dict[str, Any] = {
        "receivers": {"hook": {"memory": {}}},
        "route": {
            "receiver": "hook",
            "group_by": list(scenario.group_by),
            "group_wait": f"{GROUP_WAIT:g}s",
            "group_interval": f"{GROUP_INTERVAL:g}s",
            "repeat_interval": "1h",
        },
        "rules": rules,
        "flap_threshold": 1000,
    }
    if scenario.inhibit:
        raw["inhibit_rules"] = [INHIBIT]
    return config(raw)


def _post(url: str, body: Any) -> None:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), {"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=5):
        pass


def _am_alerts(scenario: Scenario, job: str) -> list[dict[str, str]]:
    found = [{"alertname": "JobFailed", "severity": "warning", "job": job}]
    if scenario.inhibit:
        found.append({"alertname": "JobFailing", "severity": "critical", "job": job})
    return found


def play(scenario: Scenario, am_url: str) -> list[tuple[datetime, Step]]:
    """Post the steps to Alertmanager at their times; the moments they were posted."""
    start = time.monotonic()
    wall = utcnow()
    started: dict[str, datetime] = {}
    done = []
    for step in scenario.steps:
        time.sleep(max(0.0, start + step.at - time.monotonic()))  # pacing the input
        now = wall + timedelta(seconds=time.monotonic() - start)
        if step.action == "silence":
            for job in step.jobs:
                _post(
                    f"{am_url}/api/v2/silences",
                    {
                        "matchers": [
                            {"name": "job", "value": job, "isRegex": False, "isEqual": True}
                        ],
                        "startsAt": now.isoformat(),
                        "endsAt": (now + timedelta(hours=1)).isoformat(),
                        "createdBy": "oracle",
                        "comment": "while firing",
                    },
                )
        else:
            alerts = []
            for job in step.jobs:
                since = started.setdefault(job, now)
                ends = now + timedelta(hours=1) if step.action == "fire" else now
                if step.action == "resolve":
                    started.pop(job)
                alerts += [
                    {"labels": labels, "startsAt": since.isoformat(), "endsAt": ends.isoformat()}
                    for labels in _am_alerts(scenario, job)
                ]
            _post(f"{am_url}/api/v2/alerts", alerts)
        done.append((now, step))
    return done


def simulate(scenario: Scenario, played: list[tuple[datetime, Step]]) -> int:
    """runwatch's notifications for the same actions at the same moments."""
    silences: list[Silence] = []
    evaluator = Evaluator(
        runwatch_config(scenario), infos={j: JobInfo() for j in ABC}, silences=silences
    )
    sent = []
    for run_id, (at, step) in enumerate(played, start=1):
        if step.action == "silence":
            for job in step.jobs:
                matcher = parse_matcher(f"job={job}")
                silences.append(
                    Silence(run_id, (matcher,), at, at + timedelta(hours=1), "o", "", at)
                )
            continue
        kind = RunFailed if step.action == "fire" else RunSucceeded
        events: list[Event] = [
            kind(at=at, job=job, run_id=run_id * 10 + i) for i, job in enumerate(step.jobs)
        ]
        sent += evaluator.advance(events)
    sent += evaluator.settle(played[-1][0] + timedelta(seconds=60))
    return len(sent)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_runwatch_and_alertmanager_send_the_same_number_of_notifications(
    scenario: Scenario, tmp_path: Path, http_server: RecordingServer
) -> None:
    am = Alertmanager(tmp_path, am_config(scenario, f"{http_server.url}/am"))
    am.start()
    try:
        ours = simulate(scenario, play(scenario, am.url))
        deadline = time.monotonic() + GROUP_WAIT + 3 * GROUP_INTERVAL + 10
        while len(http_server.on("/am")) < ours and time.monotonic() < deadline:
            time.sleep(0.05)
        # and nothing more within another group_interval (a notification Alertmanager
        # would add comes at the latest on the group's next tick)
        quiet = time.monotonic() + GROUP_INTERVAL + 0.5
        while len(http_server.on("/am")) == ours and time.monotonic() < quiet:
            time.sleep(0.05)
    finally:
        am.stop()
    assert (ours, len(http_server.on("/am"))) == (scenario.count, scenario.count)
