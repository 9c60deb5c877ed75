"""Delivery through the outbox: retries with backoff, Retry-After, permanent errors,
fallbacks, ordering within a group, crashes and concurrent senders."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from alerting import AlertEngine, Sender, firing_alert_counts, notification_counts
from alerting.notification import DeliveryResult, NotifiedStatus
from alerting.notifiers.memory import MemoryNotifier
from alerting.outbox import claimant_process, list_rows
from runner.processes import parse
from runner.store.notifications import NotificationStatus
from runner.store.store import Store
from tests.alerting.conftest import EventLog, FixedClock, config
from tests.storesql import sql

ROOT = Path(__file__).resolve().parents[2]
RAW = {
    "receivers": {
        "team": {
            "memory": {},
            "max_attempts": 4,
            "backoff": "10s",
            "max_backoff": "1m",
            "fallback": "backup",
        },
        "backup": {"memory": {}},
    },
    "route": {"receiver": "team", "group_wait": "0s", "group_interval": "0s"},
    "rules": [{"alert": "JobFailed", "when": "run_failed", "severity": "error"}],
}
DOWN = DeliveryResult.failure("HTTP 500")


def setup(
    store: Store, clock: FixedClock
) -> tuple[AlertEngine, Sender, MemoryNotifier, MemoryNotifier]:
    cfg = config(RAW)
    team, backup = MemoryNotifier(), MemoryNotifier()
    sender = Sender(store, cfg, notifiers={"team": team, "backup": backup}, clock=clock)
    return AlertEngine(store, cfg, clock=clock), sender, team, backup


def test_a_receiver_down_for_three_attempts_gets_the_notification_exactly_once(
    store: Store, events: EventLog, clock: FixedClock
) -> None:
    engine, sender, team, _ = setup(store, clock)
    team.fail_next(DOWN, DOWN, DOWN)
    events.run(ok=False)
    engine.evaluate()
    waits = []
    for _ in range(3):
        assert sender.deliver_due().retried == 1
        (row,) = list_rows(store)
        waits.append((row.next_attempt_at - clock.now).total_seconds())
        assert sender.deliver_due().sent == 0  # not due before its backoff
        clock.now = row.next_attempt_at
    assert waits == [10.0, 20.0, 40.0]
    assert sender.deliver_due().sent == 1
    clock.advance(3600)
    assert sender.deliver_due().sent == 0
    assert len(team.sent) == 1
    (row,) = list_rows(store)
    assert (row.status, row.attempts) == (NotificationStatus.SENT, 4)


def test_retry_after_is_honoured_and_holds_back_the_receivers_other_rows(
    store: Store, events: EventLog, clock: FixedClock
) -> None:
    engine, sender, team, _ = setup(store, clock)
    events.run("nightly-etl", ok=False)
    events.run("hourly-sync", ok=False)
    engine.evaluate()
    team.fail_next(DeliveryResult.failure("HTTP 429: rate_limited", retry_after_seconds=90))
    report = sender.deliver_due()
    assert (report.retried, report.deferred, report.sent) == (1, 1, 0)
    assert all((r.next_attempt_at - clock.now).total_seconds() == 90 for r in list_rows(store))
    clock.advance(89)
    assert sender.deliver_due().sent == 0
    clock.advance(1)
    assert sender.deliver_due().sent == 2
    assert sorted(r.attempts for r in list_rows(store)) == [1, 2]


def test_a_permanent_error_fails_at_once_and_goes_to_the_fallback_receiver(
    store: Store, events: EventLog, clock: FixedClock
) -> None:
    engine, sender, team, backup = setup(store, clock)
    team.fail_next(DeliveryResult.failure("HTTP 404: no_service", permanent=True))
    events.run(ok=False)
    engine.evaluate()
    report = sender.deliver_due()
    assert (report.failed, report.sent) == (1, 1)
    assert team.sent == []
    assert [n.alerts[0].alertname for n in backup.sent] == ["JobFailed"]
    counts = notification_counts(store)
    assert counts == {("team", "failed"): 1, ("backup", "sent"): 1}
    assert firing_alert_counts(store) == {"critical": 0, "error": 1, "warning": 0, "info": 0}


def test_after_the_retry_budget_the_notification_is_recorded_as_failed(
    store: Store, events: EventLog, clock: FixedClock
) -> None:
    engine, sender, team, backup = setup(store, clock)
    team.fail_next(*[DOWN] * 4)
    events.run(ok=False)
    engine.evaluate()
    for _ in range(4):
        sender.deliver_due()
        clock.advance(120)
    rows = {r.receiver: r for r in list_rows(store)}
    assert rows["team"].status is NotificationStatus.FAILED
    assert rows["team"].last_error == "HTTP 500"
    assert rows["backup"].fallback_of == rows["team"].id
    assert len(backup.sent) == 1


def test_a_resolve_never_overtakes_its_firing_notification(
    store: Store, events: EventLog, clock: FixedClock
) -> None:
    engine, sender, team, _ = setup(store, clock)
    team.fail_next(DOWN)
    events.run(ok=False)
    engine.evaluate()
    sender.deliver_due()
    events.run(ok=True)
    engine.evaluate(clock.advance(1))
    assert sender.deliver_due().sent == 0
    clock.advance(10)
    sender.deliver_due()
    assert [n.status for n in team.sent] == [NotifiedStatus.FIRING, NotifiedStatus.RESOLVED]


def test_two_senders_on_one_store_never_send_the_same_notification(
    store: Store, db_url: str, events: EventLog, clock: FixedClock
) -> None:
    engine = AlertEngine(store, config(RAW), clock=clock)
    for i in range(12):
        events.run(f"job-{i}", ok=False)
    engine.evaluate()
    stores = [Store.open(db_url), Store.open(db_url)]
    notifiers = [MemoryNotifier(), MemoryNotifier()]
    senders = [
        Sender(s, config(RAW), notifiers={"team": n}, clock=clock)
        for s, n in zip(stores, notifiers, strict=True)
    ]
    start = threading.Barrier(2)

    def work(sender: Sender) -> None:
        start.wait()
        for _ in range(5):
            sender.deliver_due()

    threads = [threading.Thread(target=work, args=(s,)) for s in senders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for s in stores:
        s.close()
    sent = [n.id for notifier in notifiers for n in notifier.sent]
    assert sorted(sent) == sorted(set(sent))
    assert len(sent) == 12


@pytest.mark.parametrize("point", ["after_enqueue", "during_send"])
def test_a_sender_killed_around_the_send_is_taken_over_at_once_and_never_duplicated(
    store: Store, db_url: str, events: EventLog, clock: FixedClock, point: str
) -> None:
    events.run(ok=False)
    child = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.alerting.crashing_sender",
            db_url,
            json.dumps(RAW),
            str(clock.now.timestamp()),
            point,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    (row,) = list_rows(store)
    expected = (
        NotificationStatus.PENDING if point == "after_enqueue" else NotificationStatus.SENDING
    )
    assert row.status is expected
    if point == "during_send":  # the claim names the dead process: host, pid, start time
        claimant = sql(store).scalar("SELECT claimed_by FROM notifications")
        assert parse(claimant_process(claimant)) is not None
    _, sender, team, _ = setup(store, clock)
    # no waiting for the 120 s lease: the claimant is known dead
    assert sender.deliver_due().sent == (1 if point == "after_enqueue" else 0)
    clock.advance(3600)
    assert sender.deliver_due().sent == 0
    (row,) = list_rows(store)
    if point == "after_enqueue":
        assert (row.status, len(team.sent)) == (NotificationStatus.SENT, 1)
    else:  # it may have reached the receiver, which has no idempotency key: not resent
        assert (row.status, len(team.sent)) == (NotificationStatus.POSSIBLY_DELIVERED, 0)
        assert "sender died during the send" in (row.last_error or "")
