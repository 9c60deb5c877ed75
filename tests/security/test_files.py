"""Attacks on the files and processes runwatch touches: each is tried for real, then the
test checks that nothing was read, deleted, overwritten or killed.

The store is trusted by nothing here: a row may come from a ping report, an older
runwatch, or anyone who can write the database. Paths it records are read and deleted
only inside runwatch's logs folder; a pid it records is signalled only while it still
names the process the attempt started; what runwatch creates is private to its user.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dashboards.logs import read_full, tail
from dashboards.settings import DashboardSettings
from runner.model import Job, RunState, Task, TaskState, Trigger
from runner.processes import process_start
from runner.store.logfiles import RefusedLogPathError
from runner.store.records import AttemptRecord
from runner.store.recovery import ORPHANED
from runner.store.store import Store
from tests.e2e.cli import clean_env
from tests.storesql import sql

T0 = datetime(2020, 1, 1, tzinfo=UTC)
SECRET = "root:$6$TOP-SECRET-HASH:19000:0:99999:7:::\n"
DEAD_SUPERVISOR = f"{socket.gethostname()}:{os.getpid()}:0"
"""This host, a pid with another start time: a supervisor that is gone."""


def runwatch(
    home: Path, cwd: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`runwatch ARGS` as a process, with the permissive umask of a default root shell."""
    return subprocess.run(
        [sys.executable, "-m", "runner", *args],
        cwd=cwd,
        env=env or clean_env(home),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        umask=0o022,
    )


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def store(home: Path) -> Iterator[Store]:
    with Store.open(f"sqlite:///{home / 'runwatch.db'}") as opened:
        yield opened


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A root-only file outside runwatch's home, standing in for /etc/shadow."""
    path = tmp_path / "shadow"
    path.write_text(SECRET)
    path.chmod(0o600)
    return path


def started_attempt(store: Store, home: Path, job: str, task: str, at: datetime) -> AttemptRecord:
    """The running first attempt of ``task`` in a new run of ``job``, logging under home."""
    definition = Job(name=job, tasks={task: Task(task, command=("true",))})
    run = store.create_run(definition, at, Trigger.MANUAL, at)
    assert run is not None
    store.mark_run_started(run, at)
    attempt = store.start_attempt(run, task, at, log_dir=home / "logs")
    assert attempt is not None
    return attempt


def finished_run(store: Store, home: Path, *, at: datetime = T0) -> tuple[int, int]:
    """A finished run of job ``etl`` with one attempt whose real logs say ``genuine``;
    its run id and attempt id."""
    attempt = started_attempt(store, home, "etl", "load", at)
    assert attempt.stdout_path
    assert attempt.stderr_path
    for path in (attempt.stdout_path, attempt.stderr_path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text("genuine output\n")
    store.finish_attempt(attempt, TaskState.SUCCESS, at)
    store.mark_run_finished(store.get_run(attempt.run_id), RunState.SUCCESS, at)
    return attempt.run_id, attempt.id


def record_path(store: Store, attempt_id: int, column: str, path: str) -> None:
    """What a forged report (or anyone writing the store) can leave in a row."""
    sql(store).execute(
        f"UPDATE attempts SET {column} = :path WHERE id = :id", {"path": path, "id": attempt_id}
    )


def forged_paths(home: Path, secret: Path) -> dict[str, str]:
    """Recorded paths that all lead to the secret: plainly, through ``..``, through a link."""
    link = home / "logs" / "etl" / "999" / "load.1.out"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(secret)
    return {
        "outside": str(secret),
        "traversal": str(home / "logs" / ".." / ".." / secret.name),
        "symlink": str(link),
    }


# -- recorded paths: never read, served or deleted outside the logs folder -------------


@pytest.mark.parametrize("how", ["outside", "traversal", "symlink"])
def test_runwatch_logs_refuses_a_recorded_path_that_leads_outside_the_logs_folder(
    tmp_path: Path, home: Path, store: Store, secret: Path, how: str
) -> None:
    run_id, attempt_id = finished_run(store, home)
    record_path(store, attempt_id, "stdout_path", forged_paths(home, secret)[how])

    result = runwatch(home, tmp_path, "logs", str(run_id))

    assert "TOP-SECRET" not in result.stdout + result.stderr
    assert result.returncode == 2, result.stderr
    assert "load attempt 1 stdout" in result.stderr
    assert "outside runwatch's logs folder" in result.stderr
    assert "genuine output" in result.stdout  # the real stderr log is still shown
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("how", ["outside", "traversal", "symlink"])
def test_the_dashboard_refuses_to_show_or_hand_over_a_file_outside_the_logs_folder(
    home: Path, secret: Path, caplog: pytest.LogCaptureFixture, how: str
) -> None:
    logs = str(home / "logs")
    path = forged_paths(home, secret)[how]

    found = tail(path, logs)

    assert (found.text, found.size) == ("", 0)
    assert "outside runwatch's logs folder" in (found.missing or "")
    assert "outside runwatch's logs folder" in caplog.text
    with pytest.raises(RefusedLogPathError):
        read_full(path, logs, limit=None)


def test_the_dashboard_looks_for_logs_in_the_home_the_cli_or_environment_names(
    home: Path,
) -> None:
    assert DashboardSettings.from_env({"RUNWATCH_HOME": str(home)}).logs_dir == str(home / "logs")
    given = DashboardSettings.from_env({"RUNWATCH_DASHBOARD_LOGS_DIR": "/srv/logs"})
    assert given.logs_dir == "/srv/logs"


def test_db_prune_never_deletes_a_file_outside_the_logs_folder(
    tmp_path: Path, home: Path, store: Store, secret: Path
) -> None:
    other = tmp_path / "important.conf"
    other.write_text("keep me\n")
    link = home / "logs" / "etl" / "1" / "elsewhere.out"
    _, attempt_id = finished_run(store, home)  # backdated to 2020: due for pruning
    genuine = Path(store.get_attempt(attempt_id).stdout_path or "")
    link.symlink_to(other)
    _, forged_id = finished_run(store, home, at=T0.replace(hour=1))
    record_path(store, forged_id, "stdout_path", str(secret))
    record_path(store, forged_id, "stderr_path", str(link))

    result = runwatch(home, tmp_path, "db", "prune", "--older-than", "1d")

    assert result.returncode == 0, result.stderr
    assert secret.read_text() == SECRET
    assert other.read_text() == "keep me\n"
    assert f"not deleted: log file '{secret}' is outside" in result.stderr
    assert not genuine.exists()  # the logs that are runwatch's own still go
    assert "2 runs" in result.stdout


# -- leftover processes: signalled only while the pid is still the recorded process ----


@pytest.fixture
def bystander() -> Iterator[subprocess.Popen[bytes]]:
    """An unrelated process that leads a process group of its own, as an attempt does."""
    process = subprocess.Popen(["sleep", "60"], start_new_session=True)
    yield process
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)


def orphaned_attempt(store: Store, home: Path, pid: int, pid_start: str | None) -> int:
    """A running attempt whose supervisor died, naming ``pid`` (and ``pid_start``) as a
    forged report or an older runwatch leaves it; its id."""
    attempt = started_attempt(store, home, "victim", "work", T0)
    sql(store).execute(
        "UPDATE attempts SET supervisor = :sup, pid = :pid WHERE id = :id",
        {"sup": DEAD_SUPERVISOR, "pid": pid, "id": attempt.id},
    )
    if pid_start is not None:
        sql(store).execute(
            "UPDATE attempts SET pid_start = :start WHERE id = :id",
            {"start": pid_start, "id": attempt.id},
        )
    return attempt.id


def signal_that_ends(process: subprocess.Popen[bytes]) -> int:
    """Which signal ends ``process``: SIGTERM (ours) unless something already sent SIGKILL."""
    if process.poll() is None:
        process.terminate()
    return -process.wait(timeout=10)


@pytest.mark.parametrize(
    "recorded_start",
    [None, "not-this-boot:12345", "own"],
    ids=["no-start-recorded", "another-boot", "another-process"],
)
def test_recovery_never_signals_an_unrelated_process_a_run_row_names(
    home: Path, store: Store, bystander: subprocess.Popen[bytes], recorded_start: str | None
) -> None:
    start = process_start(os.getpid()) if recorded_start == "own" else recorded_start
    attempt_id = orphaned_attempt(store, home, bystander.pid, start)

    with Store.open(f"sqlite:///{home / 'runwatch.db'}") as recovering:
        attempt = recovering.get_attempt(attempt_id)

    assert (attempt.state, attempt.reason) == (TaskState.FAILED, ORPHANED)
    assert signal_that_ends(bystander) == signal.SIGTERM, "the bystander was killed"


def test_recovery_still_kills_a_genuine_leftover_of_a_dead_supervisor(
    home: Path, store: Store, bystander: subprocess.Popen[bytes]
) -> None:
    orphaned_attempt(store, home, bystander.pid, process_start(bystander.pid))

    Store.open(f"sqlite:///{home / 'runwatch.db'}").close()

    assert bystander.wait(timeout=10) == -signal.SIGKILL


def wait_for(condition: object, what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def process_gone(pid: int) -> bool:
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_bytes()
    except FileNotFoundError:
        return True
    return stat_line[stat_line.rfind(b")") + 2 :].split()[0] in (b"Z", b"X")


def test_a_sigkilled_wrap_leaves_a_leftover_that_the_next_opening_of_the_store_kills(
    tmp_path: Path, home: Path
) -> None:
    pidfile = tmp_path / "pid"
    wrap = subprocess.Popen(
        [sys.executable, "-m", "runner", "wrap", "--job", "stuck", "--", "sh", "-c",
         f"echo $$ > {pidfile}; exec sleep 60"],
        cwd=tmp_path, env=clean_env(home), stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), "the command")
        task_pid = int(pidfile.read_text())
        url = f"sqlite:///{home / 'runwatch.db'}"
        with Store.open(url, recover=False) as watching:

            def recorded() -> bool:
                runs = watching.list_runs()
                attempts = watching.attempts(runs[0].id) if runs else []
                return bool(attempts) and attempts[0].pid_start is not None

            wait_for(recorded, "wrap to record the command's process")
        wrap.kill()
        wrap.wait(timeout=10)

        with Store.open(url) as recovering:
            (attempt,) = recovering.attempts(recovering.list_runs()[0].id)

        assert attempt.reason == ORPHANED
        assert attempt.pid_start == process_start(task_pid) or process_gone(task_pid)
        wait_for(lambda: process_gone(task_pid), "the leftover to be killed", timeout=10)
    finally:
        if wrap.poll() is None:
            wrap.kill()
        wrap.wait(timeout=10)


# -- what runwatch creates is private ----------------------------------------------------


def test_a_wrapped_run_creates_its_home_store_logs_and_lock_private(
    tmp_path: Path, home: Path
) -> None:
    result = runwatch(
        home, tmp_path, "wrap", "--job", "nightly", "--overlap", "skip", "--",
        "sh", "-c", "echo out; echo err >&2",
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    logs = home / "logs" / "nightly" / "1"
    for folder in (home, home / "logs", home / "logs" / "nightly", logs, home / "locks"):
        assert mode(folder) == 0o700, folder
    for file in (home / "runwatch.db", logs / "nightly.1.out", logs / "nightly.1.err"):
        assert mode(file) == 0o600, file
    assert mode(home / "locks" / "nightly.lock") == 0o600


def test_a_run_creates_its_store_and_log_files_private(tmp_path: Path, home: Path) -> None:
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text("jobs:\n  etl:\n    tasks:\n      load:\n        command: 'echo loaded'\n")

    result = runwatch(home, tmp_path, "run", "etl", "--jobs", str(jobs))

    assert result.returncode == 0, result.stderr
    logs = home / "logs" / "etl" / "1"
    assert [mode(f) for f in (home, home / "logs", home / "logs" / "etl", logs)] == [0o700] * 4
    assert mode(home / "runwatch.db") == 0o600
    assert mode(logs / "load.1.out") == 0o600


def test_the_sqlite_store_and_its_wal_and_shm_files_are_private(home: Path) -> None:
    previous = os.umask(0o022)
    try:
        with Store.open(f"sqlite:///{home / 'runwatch.db'}") as opened:
            opened.heartbeat("scheduler", T0)
            files = [home / n for n in ("runwatch.db", "runwatch.db-wal", "runwatch.db-shm")]
            assert [mode(f) for f in files] == [0o600] * 3
    finally:
        os.umask(previous)
    assert mode(home) == 0o700


def test_results_spooled_while_the_store_is_away_are_private(tmp_path: Path, home: Path) -> None:
    env = {**clean_env(home), "RUNWATCH_DB_URL": "postgresql://runwatch@127.0.0.1:9/none"}

    result = runwatch(home, tmp_path, "wrap", "--job", "away", "--", "true", env=env)

    assert result.returncode == 0, result.stderr
    spooled = list((home / "spool").glob("*.json"))
    assert spooled, result.stderr
    assert mode(home / "spool") == 0o700
    assert [mode(f) for f in spooled] == [0o600] * len(spooled)


# -- log files: a link planted at a log's name is never written through ---------------


@pytest.fixture
def targets(tmp_path: Path) -> tuple[Path, Path]:
    """Two root-owned files another user would like a root run to overwrite."""
    first, second = tmp_path / "sudoers", tmp_path / "crontab"
    first.write_text("ORIGINAL sudoers\n")
    second.write_text("ORIGINAL crontab\n")
    return first, second


def plant(folder: Path, name: str, targets: tuple[Path, Path]) -> tuple[Path, Path]:
    """A symbolic link at the stdout log's name and a hard link at the stderr log's."""
    folder.mkdir(parents=True, exist_ok=True)
    out, err = folder / f"{name}.out", folder / f"{name}.err"
    out.symlink_to(targets[0])
    os.link(targets[1], err)
    return out, err


def test_wrap_never_writes_through_a_link_planted_at_its_log_files(
    tmp_path: Path, home: Path, targets: tuple[Path, Path]
) -> None:
    out, err = plant(home / "logs" / "victim" / "1", "victim.1", targets)

    result = runwatch(
        home, tmp_path, "wrap", "--job", "victim", "--", "sh", "-c", "echo pwned; echo pwned >&2"
    )

    assert result.returncode == 0, result.stderr
    assert targets[0].read_text() == "ORIGINAL sudoers\n"
    assert targets[1].read_text() == "ORIGINAL crontab\n"
    for log in (out, err):
        assert not log.is_symlink()
        assert log.stat().st_nlink == 1
        assert log.read_text() == "pwned\n"
        assert mode(log) == 0o600
    assert f"log file {out} was a symbolic link to '{targets[0]}': replaced" in result.stderr


def test_a_run_never_writes_through_a_link_planted_at_its_log_files(
    tmp_path: Path, home: Path, targets: tuple[Path, Path]
) -> None:
    jobs = tmp_path / "jobs.yaml"
    jobs.write_text(
        "jobs:\n  victim:\n    tasks:\n      work:\n        command: 'echo pwned; echo pwned >&2'\n"
    )
    out, err = plant(home / "logs" / "victim" / "1", "work.1", targets)

    result = runwatch(home, tmp_path, "run", "victim", "--jobs", str(jobs))

    assert result.returncode == 0, result.stderr
    assert targets[0].read_text() == "ORIGINAL sudoers\n"
    assert targets[1].read_text() == "ORIGINAL crontab\n"
    assert out.read_text() == err.read_text() == "pwned\n"
    assert not out.is_symlink()
    assert err.stat().st_nlink == 1
    assert "was a symbolic link" in result.stderr
