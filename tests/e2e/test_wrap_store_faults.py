"""`runwatch wrap` against a store that refuses, is newer, is busy or is damaged: real
processes, real SQLite files and a real PostgreSQL."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from runner.model import RunState
from runner.store.store import Store
from runner.wrap.spool import Spool
from tests import pg
from tests.runner.wrap.conftest import Wrap, finished_report, make_wrap, wrap_env

UNREACHABLE = "postgresql://runwatch@127.0.0.1:1/nowhere"
BURST = 60
WAIT_FOR_GO = (
    'touch "$0"; i=0; while [ ! -e "$1" ] && [ $i -lt 2400 ]; do sleep 0.05; i=$((i+1)); done'
)
"""The wrapped command: say it started, then wait (at most 2 minutes) for the go file."""


@pytest.fixture
def wrap(tmp_path: Path, home: Path) -> Wrap:
    return make_wrap(tmp_path, home)


def runwatch(home: Path, cwd: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runner", *args],
        cwd=cwd,
        env=wrap_env(home, **extra),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.postgresql
def test_a_result_the_store_refuses_for_good_is_moved_aside_once_and_the_rest_recorded(
    wrap: Wrap, home: Path
) -> None:
    pg.require()
    spool = Spool(str(home / "spool"))
    poisoned = finished_report("p" * 300)  # longer than PostgreSQL's job name column
    spool.append(poisoned)  # first in line: its id is the oldest
    outage = wrap_env(home, RUNWATCH_DB_URL=UNREACHABLE)
    for n in range(3):  # a real outage spools these behind it
        assert wrap("--job", f"good{n}", "--", "true", env=outage).returncode == 0
    assert len(spool.pending()) == 4

    with pg.temporary_schema() as url:
        back = wrap_env(home, RUNWATCH_DB_URL=url)
        first = wrap("--job", "after", "--", "true", env=back)
        second = wrap("--job", "after", "--", "true", env=back)

        with Store.open(url) as store:
            jobs = sorted(r.job for r in store.list_runs())
    assert first.returncode == second.returncode == 0
    assert jobs == ["after", "after", "good0", "good1", "good2"]
    assert spool.pending() == []
    rejected = home / "spool" / "rejected"
    assert [p.name for p in rejected.glob("*.json")] == [f"{poisoned.id}.json"]
    reason = (rejected / f"{poisoned.id}.reason").read_text()
    assert "value too long" in reason
    (line,) = first.stderr.decode().splitlines()  # said by the wrap that moved it, once
    assert "refused for good" in line
    assert str(rejected) in line
    assert second.stderr == b""


def test_check_warns_of_rejected_spool_files_with_their_count_and_folder(
    wrap: Wrap, home: Path, tmp_path: Path
) -> None:
    rejected = home / "spool" / "rejected"
    rejected.mkdir(parents=True)
    for n in range(2):
        (rejected / f"0000{n}.json").write_text("{}")
        (rejected / f"0000{n}.reason").write_text("StoreError: refused")

    result = runwatch(home, tmp_path, "check")

    assert result.returncode == 0, result.stderr
    (warning,) = [line for line in result.stderr.splitlines() if "spool" in line]
    assert warning.startswith("runwatch: warning: 2 spooled results")
    assert str(rejected) in warning


def test_wrap_spools_rather_than_write_into_a_newer_schema(wrap: Wrap, home: Path) -> None:
    assert wrap("--job", "before", "--", "true").returncode == 0
    database = sqlite3.connect(home / "runwatch.db", isolation_level=None)
    database.execute("UPDATE alembic_version SET version_num = '9999'")
    database.close()

    result = wrap("--job", "newer", "--", "sh", "-c", "echo ran")

    assert result.returncode == 0
    assert result.stdout == b"ran\n"
    (line,) = result.stderr.decode().splitlines()
    assert "schema 9999 is newer" in line
    assert "upgrade runwatch" in line
    assert len(list((home / "spool").glob("*.json"))) == 1
    database = sqlite3.connect(home / "runwatch.db")
    assert database.execute("SELECT name FROM jobs ORDER BY name").fetchall() == [("before",)]
    database.close()


def test_a_burst_of_wraps_prints_nothing_about_the_store_and_records_every_run(
    home: Path, tmp_path: Path
) -> None:
    """Every start record of the burst meets a store locked beyond its 1 s bound (as in a
    burst of hundreds): the starts are folded into the final records, quietly."""
    env = wrap_env(home)
    first = [sys.executable, "-m", "runner", "wrap", "--job", "j0", "--", "true"]
    assert subprocess.run(first, env=env, cwd=tmp_path, check=False, timeout=60).returncode == 0
    go = tmp_path / "go"
    holder = sqlite3.connect(home / "runwatch.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # a busy writer holds the store while the burst starts
    procs = []
    for n in range(BURST):
        marker = tmp_path / f"started{n}"
        command = [*first[:5], f"j{n % 10}", "--", "sh", "-c", WAIT_FOR_GO, str(marker), str(go)]
        procs.append(
            subprocess.Popen(
                command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
        )
    try:
        wait_for(lambda: all((tmp_path / f"started{n}").exists() for n in range(BURST)))
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        go.touch()
    deadline = time.monotonic() + 300
    said = [p.communicate(timeout=max(1.0, deadline - time.monotonic()))[1] for p in procs]

    assert [p.returncode for p in procs] == [0] * BURST
    assert [s for s in said if s] == []
    assert list((home / "spool").glob("*.json")) == []
    with Store.open(f"sqlite:///{home / 'runwatch.db'}") as store:
        runs = store.list_runs(limit=BURST + 10)
    assert len(runs) == BURST + 1
    assert {r.state for r in runs} == {RunState.SUCCESS}


def wait_for(condition: Callable[[], bool], timeout: float = 120.0) -> None:
    """Poll ``condition`` until it holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def zero_the_root_page(path: Path, table: str) -> None:
    """Overwrite the first page of ``table`` in the SQLite file with zeroes."""
    connection = sqlite3.connect(path)
    connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = connection.execute("PRAGMA page_size").fetchone()[0]
    (page,) = connection.execute(
        "SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)
    ).fetchone()
    connection.close()
    with path.open("r+b") as file:
        file.seek(size * (page - 1))
        file.write(b"\0" * size)


def test_a_zeroed_page_is_a_clear_error_naming_the_file_and_what_to_do(
    wrap: Wrap, home: Path, tmp_path: Path
) -> None:
    for n in range(20):
        assert wrap("--job", f"job{n}", "--", "sh", "-c", "echo filler").returncode == 0
    database = home / "runwatch.db"
    zero_the_root_page(database, "runs")

    for args in (("check",), ("runs",)):
        result = runwatch(home, tmp_path, *args)

        assert result.returncode == 2, (args, result.stderr)
        assert "Traceback" not in result.stderr
        assert f"the store file {database} is corrupt" in result.stderr, result.stderr
        assert "restore it from a backup" in result.stderr
