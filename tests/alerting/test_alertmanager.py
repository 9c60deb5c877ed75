"""The ``alertmanager`` receiver against a real Prometheus Alertmanager (Debian package
``prometheus-alertmanager``)."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alerting import AlertEngine, Sender
from alerting.outbox import list_rows
from runner.clock import utcnow
from runner.store.notifications import NotificationStatus
from runner.store.store import Store
from tests.alerting.conftest import EventLog, FixedClock, config
from tests.e2e.cli import find_binary, free_port

BINARIES = ("prometheus-alertmanager", "alertmanager")


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read() or b"null")


class Alertmanager:
    """A real Alertmanager on a loopback port, restartable on the same port (its alerts
    live in memory only, so a restart empties ``/api/v2/alerts``)."""

    def __init__(self, folder: Path, config: str = "") -> None:
        self.binary = find_binary(*BINARIES, install="prometheus-alertmanager")
        self.folder = folder
        (folder / "am.yml").write_text(
            config or "route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n"
        )
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                f"--config.file={self.folder / 'am.yml'}",
                f"--storage.path={self.folder / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--cluster.listen-address=",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                stderr = self.process.stderr.read().decode() if self.process.stderr else ""
                pytest.fail(f"alertmanager did not start: {stderr[-2000:]}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        self.process.wait(10)
        if self.process.stderr:
            self.process.stderr.close()
        self.process = None


@pytest.fixture
def am(tmp_path: Path) -> Iterator[Alertmanager]:
    server = Alertmanager(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def alertmanager(am: Alertmanager) -> str:
    return am.url


def _ours(url: str) -> list[dict[str, Any]]:
    alerts: list[dict[str, Any]] = _get(f"{url}/api/v2/alerts")
    return [a for a in alerts if a["labels"].get("job") == "nightly-etl"]


def test_forwarded_alerts_appear_in_alertmanager_with_their_labels_and_resolve(
    alertmanager: str, store: Store, events: EventLog
) -> None:
    # Alertmanager compares endsAt with its own clock: keep our times in its past.
    clock = FixedClock(utcnow() - timedelta(seconds=30))
    events.clock = clock
    cfg = config(
        {
            "receivers": {"am": {"alertmanager": {"url": alertmanager}}},
            "route": {"receiver": "am", "group_wait": "0s", "group_interval": "0s"},
            "rules": [
                {
                    "alert": "JobFailed",
                    "when": "run_failed",
                    "severity": "critical",
                    "labels": {"team": "data"},
                    "annotations": {"summary": "{job} failed at {task}"},
                }
            ],
        }
    )
    engine, sender = AlertEngine(store, cfg, clock=clock), Sender(store, cfg, clock=clock)
    run_id = events.run(ok=False)
    engine.evaluate()
    assert sender.deliver_due().sent == 1
    (alert,) = _ours(alertmanager)
    assert alert["labels"] == {
        "alertname": "JobFailed",
        "severity": "critical",
        "job": "nightly-etl",
        "owner": "data-eng",
        "tags": "etl,warehouse",
        "team": "data",
    }
    assert alert["annotations"]["summary"] == "nightly-etl failed at load"
    assert alert["annotations"]["run_id"] == str(run_id)
    assert alert["status"]["state"] == "active"

    clock.advance(1)
    events.run(ok=True)
    engine.evaluate()
    assert sender.deliver_due().sent == 1
    deadline = time.monotonic() + 10
    while _ours(alertmanager) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _ours(alertmanager) == []


def test_after_an_alertmanager_restart_the_firing_alert_is_back_within_one_resend_delay(
    am: Alertmanager, store: Store, events: EventLog
) -> None:
    cfg = config(
        {
            "receivers": {"am": {"alertmanager": {"url": am.url, "resend_delay": "1s"}}},
            "route": {"receiver": "am", "group_wait": "0s", "group_interval": "0s"},
            "rules": [{"alert": "JobFailed", "when": "run_failed", "severity": "critical"}],
        }
    )
    engine, sender = AlertEngine(store, cfg, tick_seconds=0.2), Sender(store, cfg)
    events.clock = FixedClock(utcnow())
    events.run(ok=False)

    def until(condition: Any, what: str) -> float:
        start = time.monotonic()
        while not condition():
            assert time.monotonic() - start < 20, f"timed out waiting for {what}"
            engine.evaluate()
            sender.deliver_due()
            time.sleep(0.05)
        return time.monotonic() - start

    until(lambda: len(_ours(am.url)) == 1, "the first post")
    (alert,) = _ours(am.url)
    ends = datetime.fromisoformat(alert["endsAt"].replace("Z", "+00:00"))
    assert timedelta(seconds=2) < ends - utcnow() <= timedelta(seconds=4.5)  # 4 resend delays
    am.stop()
    am.start()
    assert _ours(am.url) == []
    assert until(lambda: len(_ours(am.url)) == 1, "the resend") < 5
    sent = [r for r in list_rows(store) if r.status is NotificationStatus.SENT]
    assert len(sent) >= 2
    assert all(r.notification.repeat for r in sent[:-1])
