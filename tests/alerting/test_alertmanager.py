"""The ``alertmanager`` receiver against a real Prometheus Alertmanager (Debian package
``prometheus-alertmanager``)."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from alerting import AlertEngine, Sender
from runner.clock import utcnow
from runner.store.store import Store
from tests.alerting.conftest import EventLog, FixedClock, config
from tests.e2e.cli import find_binary, free_port

BINARIES = ("prometheus-alertmanager", "alertmanager")


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read() or b"null")


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[str]:
    binary = find_binary(*BINARIES, install="prometheus-alertmanager")
    (tmp_path / "am.yml").write_text(
        "route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n"
    )
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={tmp_path / 'am.yml'}",
            f"--storage.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                stderr = process.stderr.read().decode() if process.stderr else ""
                pytest.fail(f"alertmanager did not start: {stderr[-2000:]}")
            time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(10)
        if process.stderr:
            process.stderr.close()


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
