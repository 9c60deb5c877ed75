"""kill -9 of a real `runwatch serve` that is both the scheduler and the sender, while
the page for one of its failed runs is in flight to a loopback PagerDuty that holds the
request: after the restart the page is sent again with the same ``dedup_key`` (never a
second page without it, never lost), and each fire time still has one run."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.model import RunState
from tests.alerting.conftest import Certificate, Recorded, RecordingServer
from tests.faults.harness import (
    Fleet,
    marked_command,
    marked_job,
    marks,
    open_store,
    runs,
    wait_for,
)
from tests.storesql import sql


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    serves = Fleet(tmp_path)
    yield serves
    serves.close()


def holding(server: RecordingServer) -> threading.Event:
    """Make ``server`` hold every request until the returned event is set, then answer
    as PagerDuty's Events API does."""
    release = threading.Event()

    def held(request: Recorded) -> tuple[int, dict[str, str], bytes]:
        server.arrived.set()
        release.wait(120)
        body = f'{{"status": "success", "dedup_key": "{request.json["dedup_key"]}"}}'
        return 202, {"Content-Type": "application/json"}, body.encode()

    server.default = held
    return release


def notifications(tmp: Path) -> list[dict[str, Any]]:
    with open_store(tmp) as store:
        return [dict(r) for r in sql(store).rows("SELECT * FROM notifications ORDER BY id")]


def test_a_page_in_flight_when_the_scheduling_serve_dies_is_resent_once_with_its_dedup_key(
    tmp_path: Path, fleet: Fleet, https_server: RecordingServer, certificate: Certificate
) -> None:
    marker = tmp_path / "marks"
    config = tmp_path / "runwatch.yaml"
    config.write_text(
        "server:\n  heartbeat_interval: 1s\n"
        + marked_job(marked_command(marker) + "; exit 3", retries=0)
        + "alerting:\n  receivers:\n"
        "    pd: {pagerduty: {routing_key: R0UT1NGKEY0000000000000000000042, "
        f"events_url: '{https_server.url}', ca_bundle: '{certificate.cert}'}}}}\n"
        "  route: {receiver: pd, group_by: [alertname, job], group_wait: 0s, "
        "group_interval: 1h, repeat_interval: 1h}\n"
        "  rules:\n    - {alert: JobFailed, when: run_failed, severity: critical}\n"
    )
    release = holding(https_server)
    first = fleet.start(config)
    wait_for(lambda: len(https_server.requests) == 1, "the page to reach the receiver", 60)
    (row,) = notifications(tmp_path)
    assert row["status"] == "sending"
    first.kill()
    release.set()
    second = fleet.start(config)
    wait_for(lambda: notifications(tmp_path)[0]["status"] == "sent", "the resend", 60)
    with open_store(tmp_path) as store:
        before = len(runs(store))
        wait_for(lambda: len(runs(store)) > before + 1, "the restarted serve to schedule on")
        assert second.stop() == 0, second.output()
        found = runs(store)
    sent = https_server.on("/v2/enqueue")
    assert len(sent) == 2, [r.json for r in sent]
    assert sent[0].json == sent[1].json  # the same trigger, with the same dedup_key
    assert sent[0].json["event_action"] == "trigger"
    assert [r["status"] for r in notifications(tmp_path)] == ["sent"]
    times = [r.logical_time for r in found]
    assert len(times) == len(set(times)), "a fire time got two runs"
    assert {r.state for r in found} <= {RunState.FAILED, RunState.CANCELLED}
    assert all(r.state is not RunState.FAILED or r.reason != "orphaned" for r in found)
    ends = Counter(m.logical_time for m in marks(marker) if m.what == "end")
    assert set(ends.values()) == {1}, ends
