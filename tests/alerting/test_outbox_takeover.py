"""A real `runwatch serve` killed by SIGKILL while a notification is in flight to a
loopback receiver that holds the request: the restarted serve takes the claim over at
once, resends only where the receiver has an idempotency key (PagerDuty's dedup_key),
and otherwise records the notification as possibly delivered and never sends it again."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alerting.outbox import claim, list_rows
from runner.events import AttemptFailed
from runner.processes import identity_of
from runner.store.notifications import NotificationStatus, claimable
from runner.store.store import Store
from tests.alerting.conftest import (
    Certificate,
    EventLog,
    FixedClock,
    Recorded,
    RecordingServer,
)
from tests.alerting.test_slack import bot_config, run_cycle, slack_api
from tests.e2e.cli import clean_env, free_port

KEY = "R0UT1NGKEY0000000000000000000042"


TAKEOVER_BOUND = 90
"""Under the 120 s claim lease: a takeover seen within it came from the dead process being
recognised, not from its lease running out. Also how long any condition is waited for."""


def wait_for(condition: Callable[[], bool], what: str, timeout: float = TAKEOVER_BOUND) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class World:
    """A home folder, a runwatch.yaml pointing at the receiver, and serve processes."""

    def __init__(self, tmp: Path, receiver: str) -> None:
        self.tmp, self.home = tmp, tmp / "home"
        self.env = {**clean_env(self.home), "PD_KEY": KEY}
        (tmp / "jobs.yaml").write_text(
            "jobs:\n  nightly:\n    schedule: '0 0 1 1 *'\n    command: 'false'\n"
        )
        (tmp / "runwatch.yaml").write_text(
            "alerting:\n"
            f"  receivers:\n    target: {receiver}\n"
            "  route: {receiver: target, group_wait: 0s, group_interval: 0s}\n"
            "  rules:\n    - {alert: JobFailed, when: run_failed, severity: critical}\n"
        )
        self.serves: list[subprocess.Popen[bytes]] = []

    def serve(self) -> subprocess.Popen[bytes]:
        port = free_port()
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "runner",
                "serve",
                "--jobs",
                str(self.tmp / "jobs.yaml"),
                "--listen",
                f"127.0.0.1:{port}",
            ],
            cwd=self.tmp,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.serves.append(proc)

        def healthy() -> bool:
            assert proc.poll() is None, "serve exited"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                    return bool(r.status == 200)
            except OSError:
                return False

        wait_for(healthy, "serve to answer /healthz")
        return proc

    def wrap(self, command: str) -> None:
        subprocess.run(
            [sys.executable, "-m", "runner", "wrap", "--job", "nightly", "--", "sh", "-c", command],
            cwd=self.tmp,
            env=self.env,
            capture_output=True,
            timeout=60,
            check=False,
        )

    def rows(self) -> list[dict[str, Any]]:
        with sqlite3.connect(self.home / "runwatch.db") as db:
            db.row_factory = sqlite3.Row
            return [dict(r) for r in db.execute("SELECT * FROM notifications ORDER BY id")]

    def stop(self) -> None:
        for proc in self.serves:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)


def holding(server: RecordingServer, answer: Callable[[Recorded], Any]) -> threading.Event:
    """Make ``server`` hold every request until the returned event is set."""
    release = threading.Event()

    def held(request: Recorded) -> Any:
        server.arrived.set()
        release.wait(2 * TAKEOVER_BOUND)
        return answer(request)

    server.default = held
    return release


def _pd_answer(request: Recorded) -> tuple[int, dict[str, str], bytes]:
    body = {"status": "success", "dedup_key": request.json["dedup_key"]}
    return 202, {"Content-Type": "application/json"}, json.dumps(body).encode()


def _kill_serve_mid_send(world: World, server: RecordingServer) -> threading.Event:
    release = holding(server, lambda r: _pd_answer(r) if "enqueue" in r.path else (200, {}, b""))
    first = world.serve()
    world.wrap("exit 3")
    wait_for(lambda: len(server.requests) == 1, "the notification to reach the receiver")
    (row,) = world.rows()
    assert row["status"] == "sending"
    host_pid = row["claimed_by"].split("/")[0].split(":")
    assert int(host_pid[1]) == first.pid  # the claim names the process
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    return release


def test_a_webhook_send_in_flight_when_serve_dies_is_recorded_possibly_delivered_not_resent(
    tmp_path: Path, http_server: RecordingServer
) -> None:
    world = World(tmp_path, f"{{webhook: {{url: '{http_server.url}/hook'}}}}")
    try:
        release = _kill_serve_mid_send(world, http_server)
        world.serve()
        wait_for(lambda: world.rows()[0]["status"] == "possibly_delivered", "the takeover")
        release.set()
        world.wrap("true")  # the recovery goes out: the new serve delivers, once
        wait_for(lambda: len(http_server.requests) == 2, "the resolved notification")
        assert [r["status"] for r in world.rows()] == ["possibly_delivered", "sent"]
        assert "resolved" in http_server.requests[1].body.decode()
        assert "not sent again" in world.rows()[0]["last_error"]
    finally:
        world.stop()


def test_a_pagerduty_send_in_flight_when_serve_dies_is_resent_at_once_with_its_dedup_key(
    tmp_path: Path, https_server: RecordingServer, certificate: Certificate
) -> None:
    receiver = (
        "{pagerduty: {routing_key: '${PD_KEY}', "
        f"events_url: '{https_server.url}', ca_bundle: '{certificate.cert}'}}}}"
    )
    world = World(tmp_path, receiver)
    try:
        release = _kill_serve_mid_send(world, https_server)
        release.set()
        world.serve()
        wait_for(lambda: world.rows()[0]["status"] == "sent", "the resend")
        first, again = https_server.on("/v2/enqueue")
        assert first.json == again.json  # the same trigger with the same dedup_key
        assert first.json["event_action"] == "trigger"
    finally:
        world.stop()


def _dead_process_identity() -> str:
    """The identity of a process of this host that has exited (and been reaped)."""
    child = subprocess.Popen(["sleep", "30"])
    identity = identity_of(child.pid)
    child.kill()
    child.wait(10)
    assert identity is not None
    return identity


def test_a_slack_update_in_flight_when_its_sender_died_is_redone_in_place_without_a_reply(
    store: Store, events: EventLog, clock: FixedClock, http_server: RecordingServer
) -> None:
    http_server.default = slack_api
    engine, sender = run_cycle(store, bot_config(http_server), http_server, clock)
    events.add(AttemptFailed, run_id=7, task="extract", attempt=1, exit_code=1)
    engine.evaluate()
    sender.deliver_due()  # the group's message
    events.run(ok=False)
    engine.evaluate(clock.advance(60))
    (row_id, _), *_ = claimable(store, clock.now, 100)
    assert claim(store, row_id, f"{_dead_process_identity()}/gone", clock.now, 120)
    before = len(http_server.requests)
    assert sender.deliver_due().sent == 1  # at once, not after the 120 s lease
    (update,) = http_server.requests[before:]
    assert update.path == "/api/chat.update"
    assert update.json["text"] == "[FIRING:3] JobFailed, TaskFailed (job=nightly-etl)"
    (row, _) = list_rows(store)
    assert row.status is NotificationStatus.SENT
    assert row.notification.redelivery
