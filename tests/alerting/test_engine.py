"""The alert engine on the real store (SQLite and PostgreSQL): events in, alerts and
queued notifications out, restart-safe and exactly once across engines."""

from __future__ import annotations

from alerting import AlertEngine, AlertState, Sender
from alerting.notification import NotifiedStatus
from alerting.notifiers.memory import MemoryNotifier
from alerting.outbox import list_rows
from alerting.silences import add_silence
from alerting.state import load_alerts, read_cursor
from alerting.matchers import parse_matcher
from runner.events import RunMissed, RunStarted
from runner.store.store import Store
from tests.alerting.conftest import EventLog, FixedClock, config

RAW = {
    "receivers": {"team": {"memory": {}}, "oncall": {"memory": {}}},
    "route": {
        "receiver": "team",
        "group_wait": "0s",
        "group_interval": "0s",
        "routes": [{"matchers": ["severity = critical"], "receiver": "oncall"}],
    },
    "rules": [
        {"alert": "JobFailed", "when": "run_failed", "severity": "error",
         "annotations": {"summary": "{job} failed at {task} (attempt {attempt})"}},
        {"alert": "JobFailing", "when": "consecutive_failures", "threshold": 3,
         "severity": "critical"},
        {"alert": "RunMissed", "when": "run_missed", "severity": "warning"},
    ],
}


def deliver(store: Store, clock: FixedClock) -> dict[str, MemoryNotifier]:
    notifiers = {"team": MemoryNotifier(), "oncall": MemoryNotifier()}
    sender = Sender(store, config(RAW), notifiers=notifiers, clock=clock)
    sender.deliver_due()
    return notifiers


def test_three_failures_page_once_and_recovery_resolves_once(
    store: Store, events: EventLog, clock: FixedClock
) -> None:
    cfg = config(RAW)
    notifiers = {"team": MemoryNotifier(), "oncall": MemoryNotifier()}
    engine = AlertEngine(store, cfg, clock=clock)
    sender = Sender(store, cfg, notifiers=notifiers, clock=clock)
    for _ in range(3):
        events.run(ok=False)
        clock.advance(60)
        engine.evaluate()
        sender.deliver_due()
    team, oncall = notifiers["team"].sent, notifiers["oncall"].sent
    assert [n.status for n in team] == [NotifiedStatus.FIRING]
    assert [n.status for n in oncall] == [NotifiedStatus.FIRING]
    assert team[0].alerts[0].summary == "nightly-etl failed at load (attempt 1)"
    assert oncall[0].alerts[0].labels["alertname"] == "JobFailing"

    events.run(ok=True)
    clock.advance(60)
    engine.evaluate()
    sender.deliver_due()
    assert [n.status for n in team] == [NotifiedStatus.FIRING, NotifiedStatus.RESOLVED]
    assert [n.status for n in oncall] == [NotifiedStatus.FIRING, NotifiedStatus.RESOLVED]
    assert team[1].alerts[0].fingerprint == team[0].alerts[0].fingerprint
    assert all(a.state is AlertState.RESOLVED for a in load_alerts(store.db))


def test_the_alert_carries_owner_tags_run_id_and_the_error_tail(
    store: Store, events: EventLog, clock: FixedClock
) -> None:
    run_id = events.run(ok=False)
    AlertEngine(store, config(RAW), clock=clock).evaluate()
    (alert,) = load_alerts(store.db)
    assert alert.labels == {
        "alertname": "JobFailed", "severity": "error", "job": "nightly-etl",
        "owner": "data-eng", "tags": "etl,warehouse", "run_id": str(run_id),
    }
    assert alert.details["error"] == "Traceback: boom"
    assert alert.details["exit_code"] == 3


def test_a_restarted_engine_continues_from_its_cursor_without_renotifying(
    store: Store, events: EventLog, clock: FixedClock
) -> None:
    events.run(ok=False)
    AlertEngine(store, config(RAW), clock=clock).evaluate()
    assert read_cursor(store.db) == store.last_event_id()
    again = AlertEngine(store, config(RAW), clock=clock).evaluate(clock.advance(10))
    assert again.events == 0
    assert again.notifications == 0
    assert len(list_rows(store.db)) == 1


def test_two_engines_on_one_store_handle_each_event_once(
    store: Store, db_url: str, events: EventLog, clock: FixedClock
) -> None:
    other = Store.open(db_url)
    try:
        events.run(ok=False)
        first = AlertEngine(store, config(RAW), clock=clock).evaluate()
        second = AlertEngine(other, config(RAW), clock=clock).evaluate()
    finally:
        other.close()
    assert (first.events, second.events) == (4, 0)
    assert len(list_rows(store.db)) == 1


def test_a_missed_run_fires_and_resolves_when_a_run_starts(
    store: Store, events: EventLog, clock: FixedClock
) -> None:
    engine = AlertEngine(store, config(RAW), clock=clock)
    events.add(RunMissed, expected_at="2030-01-07T02:00:00+00:00")
    engine.evaluate()
    (alert,) = load_alerts(store.db)
    assert alert.firing
    assert "2030-01-07T02:00:00" in alert.annotations["summary"]
    events.add(RunStarted, run_id=1, logical_time=clock.now.isoformat())
    engine.evaluate(clock.advance(5))
    (alert,) = load_alerts(store.db)
    assert alert.state is AlertState.RESOLVED


def test_a_silenced_alert_is_recorded_but_not_sent(
    store: Store, events: EventLog, clock: FixedClock
) -> None:
    add_silence(store.db, [parse_matcher("job = nightly-etl")], clock.now,
                clock.now.replace(hour=5), author="ana", comment="migration")
    events.run(ok=False)
    AlertEngine(store, config(RAW), clock=clock).evaluate()
    assert [a.alertname for a in load_alerts(store.db)] == ["JobFailed"]
    assert list_rows(store.db) == []
