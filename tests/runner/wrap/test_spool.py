"""The spool: reports written atomically, replayed oldest first, each recorded exactly once."""

from __future__ import annotations

import fcntl
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from runner.errors import StoreError, refused_for_good
from runner.store.store import Store
from runner.wrap.report import Report
from runner.wrap.spool import Spool, rejected_count, replay_into_store
from tests.runner.wrap.conftest import finished_report
from tests.storesql import sql

REPLAYER = """
import sys
from runner.store.lean_connection import connect
from runner.wrap.spool import replay_into_store
db = connect(sys.argv[2], timeout=10)
result = replay_into_store(sys.argv[1], db)
print(result.recorded, result.left, result.error)
"""


def test_spooled_reports_are_replayed_oldest_first_and_deleted(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path / "spool"))
    reports = [finished_report(at=1_800_000_000.0 + n) for n in range(3)]
    for report in reversed(reports):  # written out of order: the id orders them
        spool.append(report)
    delivered: list[Report] = []

    result = spool.replay(delivered.append)

    assert [r.id for r in delivered] == sorted(r.id for r in reports)
    assert (result.recorded, result.left, result.error) == (3, 0, None)
    assert spool.pending() == []


def test_a_spool_file_is_never_seen_half_written(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path / "spool"))
    spool.append(finished_report())

    names = os.listdir(spool.folder)

    assert [n for n in names if n.endswith(".json")] == [os.path.basename(spool.pending()[0])]
    assert not [n for n in names if n.endswith(".tmp")]


def test_a_replay_that_cannot_deliver_stops_and_keeps_every_report(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path / "spool"))
    for n in range(3):
        spool.append(finished_report(at=1_800_000_000.0 + n))

    def unavailable(_report: Report) -> None:
        raise StoreError("database is locked")

    result = spool.replay(unavailable)

    assert (result.recorded, result.left) == (0, 3)
    assert result.error == "StoreError: database is locked"
    assert len(spool.pending()) == 3


def test_an_unreadable_spool_file_is_set_aside_and_the_rest_replayed(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path / "spool"))
    spool.append(finished_report())
    Path(spool.folder, "00000000000000000000-broken.json").write_text("{not json")
    delivered: list[Report] = []

    result = spool.replay(delivered.append)

    assert len(delivered) == 1
    assert len(result.problems) == 1
    assert "moved to" in result.problems[0]
    assert os.listdir(Path(spool.folder, "bad")) == ["00000000000000000000-broken.json"]


def test_a_report_refused_for_good_is_moved_to_rejected_with_its_reason(
    tmp_path: Path,
) -> None:
    spool = Spool(str(tmp_path / "spool"))
    poisoned = finished_report("poisoned")
    spool.append(poisoned)
    spool.append(finished_report("good"))
    delivered: list[Report] = []

    def deliver(report: Report) -> None:
        if report.job.name == "poisoned":
            raise StoreError("value too long for type character varying(200)", permanent=True)
        delivered.append(report)

    result = spool.replay(deliver)

    assert [r.job.name for r in delivered] == ["good"]
    assert (result.recorded, result.left, result.error) == (1, 0, None)
    rejected = Path(spool.folder, "rejected")
    assert sorted(os.listdir(rejected)) == [f"{poisoned.id}.json", f"{poisoned.id}.reason"]
    assert "value too long" in (rejected / f"{poisoned.id}.reason").read_text()
    assert rejected_count(spool.folder) == 1
    assert spool.pending() == []


def test_a_locked_store_is_not_a_permanent_refusal() -> None:
    locked = sqlite3.OperationalError("database is locked")
    constraint = sqlite3.IntegrityError("UNIQUE constraint failed: runs.id")

    assert (refused_for_good(locked), refused_for_good(constraint)) == (False, True)


def test_reports_for_another_destination_are_left_for_it(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path / "spool"))
    spool.append(finished_report(), target="http://127.0.0.1:9464")
    delivered: list[Report] = []

    result = spool.replay(delivered.append)

    assert (delivered, result.left) == ([], 1)


def test_replaying_a_report_already_recorded_does_not_count_it_again(
    store: Store, tmp_path: Path
) -> None:
    # A replay killed after its commit but before deleting the file leaves exactly this.
    spool = Spool(str(tmp_path / "spool"))
    report = finished_report(exit_codes=(1, 0))
    spool.append(report)
    replay_into_store(spool.folder, store.spine_connection())
    spool.append(report)
    events = store.last_event_id()

    result = replay_into_store(spool.folder, store.spine_connection())

    assert result.recorded == 1
    assert store.last_event_id() == events
    assert len(store.list_runs()) == 1


def test_a_replay_killed_mid_way_and_run_again_records_every_report_once(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'runwatch.db'}"
    Store.open(url).close()
    spool = Spool(str(tmp_path / "spool"))
    total = 400
    for n in range(total):
        spool.append(finished_report(f"job{n % 7}", at=1_800_000_000.0 + n, exit_codes=(1, 0)))
    replayer = [sys.executable, "-c", REPLAYER, spool.folder, url]
    process = subprocess.Popen(replayer, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while len(spool.pending()) > total - 20 and time.monotonic() < deadline:
        time.sleep(0.001)
    process.send_signal(signal.SIGKILL)
    process.wait()
    left = len(spool.pending())
    assert 0 < left < total, "the replay was not killed half way"

    subprocess.run(replayer, capture_output=True, check=True)

    with Store.open(url) as store:
        assert len(store.list_runs(limit=total + 1)) == total
        counts = sql(store).rows("SELECT type, COUNT(*) AS n FROM events GROUP BY type")
    assert {r["type"]: r["n"] for r in counts} == {
        "run_queued": total,
        "run_started": total,
        "attempt_started": 2 * total,
        "attempt_failed": total,
        "attempt_succeeded": total,
        "run_succeeded": total,
    }
    assert spool.pending() == []


def test_only_one_process_replays_a_spool_at_a_time(tmp_path: Path) -> None:
    spool = Spool(str(tmp_path / "spool"))
    spool.append(finished_report())
    fd = os.open(os.path.join(spool.folder, ".replay.lock"), os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        delivered: list[Report] = []
        result = spool.replay(delivered.append)
    finally:
        os.close(fd)

    assert (delivered, result.left) == ([], 1)
