"""The alert engine on the real store (SQLite and PostgreSQL): events in, alerts and
queued notifications out, restart-safe and exactly once across engines."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from alerting import AlertEngine, AlertState, Sender, evaluate_and_deliver
from alerting.matchers import parse_matcher
from alerting.notification import NotifiedStatus
from alerting.notifiers.memory import MemoryNotifier
from alerting.outbox import list_rows
from alerting.silences import add_silence
from alerting.state import CURSOR, load_alerts
from runner.events import RunMissed, RunStarted
from runner.model import Job, RunState, Task, TaskState, Trigger
from runner.store.cursors import read_cursor
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
        {
            "alert": "JobFailed",
            "when": "run_failed",
            "severity": "error",
            "annotations": {"summary": "{job} failed at {task} (attempt {attempt})"},
        },
        {
            "alert": "JobFailing",
            "when": "consecutive_failures",
            "threshold": 3,
            "severity": "critical",
        },
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
    assert all(a.state is AlertState.RESOLVED for a in load_alerts(store))


def test_the_alert_is_labelled_by_what_failed_and_carries_the_run_id_and_error_tail(
    store: Store, events: EventLog, clock: FixedClock
) -> None:
    run_id = events.run(ok=False)
    AlertEngine(store, config(RAW), clock=clock).evaluate()
    (alert,) = load_alerts(store)
    assert alert.labels == {
        "alertname": "JobFailed",
        "severity": "error",
        "job": "nightly-etl",
        "owner": "data-eng",
        "tags": "etl,warehouse",
    }
    assert alert.details["run_id"] == run_id
    assert alert.details["error"] == "Traceback: boom"
    assert alert.details["exit_code"] == 3


def test_a_restarted_engine_continues_from_its_cursor_without_renotifying(
    store: Store, events: EventLog, clock: FixedClock
) -> None:
    events.run(ok=False)
    AlertEngine(store, config(RAW), clock=clock).evaluate()
    assert read_cursor(store, CURSOR) == store.last_event_id()
    again = AlertEngine(store, config(RAW), clock=clock).evaluate(clock.advance(10))
    assert again.events == 0
    assert again.notifications == 0
    assert len(list_rows(store)) == 1


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
    assert len(list_rows(store)) == 1


def test_a_missed_run_fires_and_resolves_when_a_run_starts(
    store: Store, events: EventLog, clock: FixedClock
) -> None:
    engine = AlertEngine(store, config(RAW), clock=clock)
    events.add(RunMissed, expected_at="2030-01-07T02:00:00+00:00")
    engine.evaluate()
    (alert,) = load_alerts(store)
    assert alert.firing
    assert "2030-01-07T02:00:00" in alert.annotations["summary"]
    events.add(RunStarted, run_id=1, logical_time=clock.now)
    engine.evaluate(clock.advance(5))
    (alert,) = load_alerts(store)
    assert alert.state is AlertState.RESOLVED


def test_a_silenced_alert_is_recorded_but_not_sent(
    store: Store, events: EventLog, clock: FixedClock
) -> None:
    add_silence(
        store,
        [parse_matcher("job = nightly-etl")],
        clock.now,
        clock.now.replace(hour=5),
        author="ana",
        comment="migration",
    )
    events.run(ok=False)
    AlertEngine(store, config(RAW), clock=clock).evaluate()
    assert [a.alertname for a in load_alerts(store)] == ["JobFailed"]
    assert list_rows(store) == []


def test_a_notified_alert_links_the_runs_trace_and_carries_the_stderr_tail(
    store: Store, clock: FixedClock, tmp_path: Path
) -> None:
    job = Job("nightly-etl", {"load": Task("load", command=("false",))}, owner="data-eng")
    store.sync_jobs([job], clock.now)
    run = store.create_run(job, clock.now, Trigger.MANUAL, clock.now)
    assert run is not None
    store.mark_run_started(run, clock.now, trace_id="4bf92f3577b34da6a3ce929d0e0e4736")
    run = store.get_run(run.id)
    attempt = store.start_attempt(run, "load", clock.now, log_dir=tmp_path)
    assert attempt is not None
    assert attempt.stderr_path is not None
    Path(attempt.stderr_path).parent.mkdir(parents=True, exist_ok=True)
    Path(attempt.stderr_path).write_text("x" * 2000 + "\nKeyError: 'order_id'\n")
    store.finish_attempt(attempt, TaskState.FAILED, clock.now, exit_code=1)
    store.mark_run_finished(run, RunState.FAILED, clock.advance(5), failed_tasks=["load"])
    raw = {**RAW, "trace_url": "https://grafana.example/explore?traceId={trace_id}"}
    team = MemoryNotifier()
    AlertEngine(store, config(raw), clock=clock).evaluate()
    Sender(store, config(raw), notifiers={"team": team}, clock=clock).deliver_due()
    (alert,) = team.sent[0].alerts
    assert alert.details["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert alert.details["trace_url"] == (
        "https://grafana.example/explore?traceId=4bf92f3577b34da6a3ce929d0e0e4736"
    )
    assert alert.details["error"].endswith("KeyError: 'order_id'")
    assert len(alert.details["error"]) <= 1000


def test_a_run_without_serve_waits_out_group_wait_then_delivers_before_it_exits(
    store: Store, events: EventLog, clock: FixedClock
) -> None:
    raw = {**RAW, "route": {**RAW["route"], "group_wait": "30s"}}
    events.run(ok=False)
    AlertEngine(store, config(raw), clock=clock).evaluate()
    assert list_rows(store) == []  # serve would wait 30s
    start = clock.now
    report, delivered = evaluate_and_deliver(
        store,
        config({**raw, "receivers": {"team": {"log": {}}, "oncall": {"log": {}}}}),
        clock=clock,
        sleep=clock.advance,
    )
    assert (report.notifications, delivered.sent) == (1, 1)
    (row,) = list_rows(store)
    assert row.created_at == start + timedelta(seconds=30)
    assert clock.now - start < timedelta(seconds=31)


def test_a_run_without_serve_leaves_a_far_group_timer_to_the_next_evaluator(
    store: Store, events: EventLog, clock: FixedClock
) -> None:
    raw = {**RAW, "route": {**RAW["route"], "group_wait": "10m"}}
    events.run(ok=False)
    cfg = config({**raw, "receivers": {"team": {"log": {}}, "oncall": {"log": {}}}})
    evaluate_and_deliver(store, cfg, clock=clock, sleep=clock.advance)
    assert list_rows(store) == []
    clock.advance(600)  # the next run or wrap, ten minutes later
    evaluate_and_deliver(store, cfg, clock=clock, sleep=clock.advance)
    (row,) = list_rows(store)
    assert row.created_at == clock.now


def test_an_idle_engine_skips_work_until_an_event_arrives_or_a_tick_is_due(
    store: Store, events: EventLog, clock: FixedClock
) -> None:
    raw = {**RAW, "rules": [{"alert": "NoSuccess", "when": "stale", "for": "10s"}]}
    engine = AlertEngine(store, config(raw), clock=clock, tick_seconds=5)
    events.run(ok=True)
    assert engine.evaluate(clock.advance(1)).events == 4
    assert engine.evaluate(clock.advance(4)).fired == 0  # idle until 5s after the last one
    report = engine.evaluate(clock.advance(7))
    assert (report.events, report.fired) == (0, 1)
