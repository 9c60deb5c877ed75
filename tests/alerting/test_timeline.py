"""Alert identity and the engine's timeline on the real store: per-run facts never split
an alert or its group, timers run on the facts' own times whoever evaluates, and replay
reproduces exactly what was queued."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest

from alerting import AlertEngine, evaluate_and_deliver, replay
from alerting.matchers import parse_matcher
from alerting.notification import Notification, NotifiedStatus
from alerting.outbox import list_rows
from alerting.short_lived import needs_serve
from alerting.silences import add_silence
from runner.errors import DefinitionError
from runner.model import Job, Task
from runner.store.silences import expire_silence
from runner.store.store import Store
from tests.alerting.conftest import T0, EventLog, FixedClock, config

HOOK = {"hook": {"memory": {}}}
EVERY_LABEL = config(
    {
        "receivers": HOOK,
        "route": {"receiver": "hook", "group_by": ["..."], "group_wait": "5s"},
        "rules": [{"alert": "JobFailed", "when": "run_failed"}],
    }
)
"""The route of issue 13's lost pages: every label groups."""


def queued(store: Store) -> list[Notification]:
    return [r.notification for r in reversed(list_rows(store, limit=1000))]


def statuses(notes: list[Notification]) -> list[str]:
    return [n.status.value for n in notes]


def test_group_by_every_label_pages_a_job_failing_twice_then_recovering_once_each(
    store: Store, events: EventLog, clock: FixedClock
) -> None:
    # issue 13: run_id was a label, so with group_by ['...'] each run was its own group
    # and nothing was ever sent. Alertmanager sends one firing and one resolved.
    engine = AlertEngine(store, EVERY_LABEL, clock=clock, tick_seconds=0)
    events.run(ok=False)
    engine.evaluate(clock.advance(1))
    events.run(ok=False)
    for _ in range(10):
        engine.evaluate(clock.advance(1))
    events.run(ok=True)
    engine.evaluate(clock.advance(400))
    notes = queued(store)
    assert statuses(notes) == ["firing", "resolved"]
    assert notes[0].created_at == T0 + timedelta(seconds=5)
    assert notes[0].alerts[0].details["run_id"] == 102  # the latest run, refreshed
    assert "run_id" not in notes[0].alerts[0].labels
    assert notes[1].alerts[0].fingerprint == notes[0].alerts[0].fingerprint


def test_a_failure_after_the_first_notification_still_gets_its_resolve(
    store: Store, events: EventLog, clock: FixedClock
) -> None:
    engine = AlertEngine(store, EVERY_LABEL, clock=clock, tick_seconds=0)
    events.run(ok=False)
    engine.evaluate(clock.advance(10))  # notified at 5 s
    events.run(ok=False)
    engine.evaluate(clock.advance(10))
    events.run(ok=True)
    engine.evaluate(clock.advance(600))
    assert statuses(queued(store)) == ["firing", "resolved"]


def test_thirty_failures_in_a_minute_are_one_alert_paged_once_and_resolved_once(
    store: Store, events: EventLog, clock: FixedClock
) -> None:
    engine = AlertEngine(store, EVERY_LABEL, clock=clock, tick_seconds=0)
    for _ in range(30):
        events.run(ok=False)
        engine.evaluate(clock.advance(2))
    events.run(ok=True)
    engine.evaluate(clock.advance(600))
    notes = queued(store)
    assert statuses(notes) == ["firing", "resolved"]
    assert notes[1].created_at == T0 + timedelta(seconds=5 + 300)  # the group_interval tick


def _three_jobs(store: Store, clock: FixedClock) -> EventLog:
    store.sync_jobs(
        [Job(name, {"load": Task("load", command=("true",))}) for name in ("a", "b", "c")],
        clock.now,
    )
    return EventLog(store, clock)


def test_three_jobs_failing_together_under_group_by_severity_are_one_message_without_serve(
    db_url: str, store: Store, clock: FixedClock
) -> None:
    cfg = config(
        {
            "receivers": {"hook": {"log": {}}},
            "route": {"receiver": "hook", "group_by": ["severity"], "group_wait": "1s"},
            "rules": [{"alert": "JobFailed", "when": "run_failed", "severity": "error"}],
        }
    )
    log = _three_jobs(store, clock)
    ready = threading.Barrier(3)
    errors: list[BaseException] = []

    def wrap_ending(job: str) -> None:
        own = Store.open(db_url)
        try:
            ready.wait(30)
            evaluate_and_deliver(own, cfg)  # the real clock: the 1 s group_wait is waited
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            own.close()

    from runner.clock import utcnow

    log.clock = FixedClock(utcnow())
    for job in ("a", "b", "c"):
        log.run(job, ok=False)
    threads = [threading.Thread(target=wrap_ending, args=(j,)) for j in ("a", "b", "c")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    (note,) = queued(store)
    assert sorted(a.labels["job"] for a in note.alerts) == ["a", "b", "c"]
    assert list_rows(store)[0].sent_at is not None


def test_replay_reproduces_every_queued_notification_at_the_same_time(
    store: Store, clock: FixedClock
) -> None:
    raw: dict[str, Any] = {
        "receivers": {"team": {"memory": {}}, "oncall": {"memory": {}}},
        "route": {
            "receiver": "team",
            "group_by": ["job"],
            "group_wait": "30s",
            "group_interval": "2m",
            "repeat_interval": "10m",
            "routes": [{"matchers": ["severity=critical"], "receiver": "oncall"}],
        },
        "rules": [
            {"alert": "JobFailed", "when": "run_failed", "severity": "error"},
            {
                "alert": "JobFailing",
                "when": "consecutive_failures",
                "threshold": 2,
                "severity": "critical",
            },
            {"alert": "NoSuccess", "when": "stale", "for": "20m"},
        ],
    }
    cfg = config(raw)
    log = _three_jobs(store, clock)
    engine = AlertEngine(store, cfg, clock=clock)
    # an irregular evaluation rhythm, as a loaded serve or occasional wraps would have
    rhythm = [0.3, 7, 0.25, 41, 3, 0.5, 95, 12, 1]
    script = [
        ("a", False),
        ("b", False),
        ("a", False),
        (None, "silence b"),
        ("c", False),
        ("a", True),
        ("b", True),
        (None, "expire"),
        ("b", False),
        ("c", True),
        ("a", False),
    ]
    silence = None
    for step, (job, what) in enumerate(script):
        if job is None and what == "silence b":
            silence = add_silence(
                store,
                (parse_matcher("job=b"),),
                clock.now,
                clock.now + timedelta(hours=1),
                author="t",
                comment="maintenance",
            )
        elif job is None:
            assert silence is not None
            expire_silence(store, silence.id, clock.now)
        else:
            log.run(job, ok=bool(what))
        for pause in rhythm[step % len(rhythm) :][:3]:
            engine.evaluate(clock.advance(pause * 4))
    engine.evaluate(clock.advance(3600))
    actual = queued(store)
    assert len(actual) >= 8
    assert any(n.status is NotifiedStatus.RESOLVED for n in actual)

    def shape(notes: list[Notification]) -> list[tuple[Any, ...]]:
        return [
            (
                n.created_at,
                n.receiver,
                n.title,
                n.repeat,
                tuple((a.fingerprint, a.status) for a in n.alerts),
            )
            for n in notes
        ]

    for _ in range(2):
        result = replay(store, cfg, T0 - timedelta(days=1), clock.now)
        assert shape(result.notifications) == shape(actual)


def test_a_receiver_with_send_resolved_false_hears_the_firing_but_not_the_recovery(
    store: Store, events: EventLog, clock: FixedClock
) -> None:
    cfg = config(
        {
            "receivers": {"quiet": {"memory": {}, "send_resolved": False}, "loud": {"memory": {}}},
            "route": {
                "receiver": "loud",
                "group_wait": "0s",
                "routes": [{"receiver": "quiet", "continue": True}, {"receiver": "loud"}],
            },
            "rules": [{"alert": "JobFailed", "when": "run_failed"}],
        }
    )
    engine = AlertEngine(store, cfg, clock=clock, tick_seconds=0)
    events.run(ok=False)
    engine.evaluate(clock.advance(1))
    events.run(ok=True)
    engine.evaluate(clock.advance(600))
    by_receiver = {
        r: statuses([n for n in queued(store) if n.receiver == r]) for r in ("quiet", "loud")
    }
    assert by_receiver == {"quiet": ["firing"], "loud": ["firing", "resolved"]}


def test_send_resolved_must_be_true_or_false() -> None:
    with pytest.raises(DefinitionError, match=r"receivers\.quiet\.send_resolved.*true or false"):
        config({"receivers": {"quiet": {"memory": {}, "send_resolved": "no"}}})


def test_check_says_which_timers_a_run_or_wrap_cannot_honour_without_serve() -> None:
    notes = needs_serve(
        config({"route": {"receiver": "log", "group_wait": "2m", "group_interval": "5m"}})
    )
    assert "group_wait 2m00s is longer than the 1m00s a `run` or `wrap` waits" in notes[0]
    assert "repeat_interval reminders" in notes[1]


def test_resolves_of_one_group_close_together_go_out_in_one_message(
    store: Store, clock: FixedClock
) -> None:
    cfg = config(
        {
            "receivers": HOOK,
            "route": {"receiver": "hook", "group_by": ["severity"], "group_wait": "30s"},
            "rules": [{"alert": "JobFailed", "when": "run_failed"}],
        }
    )
    log = _three_jobs(store, clock)
    engine = AlertEngine(store, cfg, clock=clock, tick_seconds=0)
    for job in ("a", "b", "c"):
        log.run(job, ok=False)
    engine.evaluate(clock.advance(3600))
    for job in ("a", "b", "c"):  # an hour later, recoveries a second apart
        log.run(job, ok=True)
        engine.evaluate(clock.advance(1))
    engine.evaluate(clock.advance(600))
    notes = queued(store)
    assert statuses(notes) == ["firing", "resolved"]  # as Alertmanager: 2, not 3
    assert len(notes[1].alerts) == 3
