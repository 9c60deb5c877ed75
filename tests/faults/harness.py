"""What the fault-injection tests share: real `runwatch serve` processes on one store, and
a command that logs each execution of itself to a marker file, holding a lock it never
waits for, so that overlapping executions are seen by the command itself."""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from runner.model import RunState
from runner.store.records import RunRecord
from runner.store.store import Store
from tests.e2e.cli import clean_env, free_port


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 40.0) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def marked_command(
    marker: Path,
    *,
    first_seconds: float = 0.2,
    later_seconds: float = 0.2,
    hold: Path | None = None,
) -> str:
    """A shell command that appends ``start``/``end`` lines (logical time, attempt, pid) to
    ``marker``, sleeping ``first_seconds`` in its first attempt (or, with ``hold``, until
    that file exists) and ``later_seconds`` after; it appends ``overlap`` and fails if
    another execution of it holds the lock."""
    lock = marker.with_suffix(".lock")
    line = f'"$RUNWATCH_LOGICAL_TIME $RUNWATCH_ATTEMPT $$" >> {marker}'
    first = (
        f"sleep {first_seconds}" if hold is None else f"while [ ! -e {hold} ]; do sleep 0.05; done"
    )
    return (
        f"exec 9>>{lock}; flock -n 9 || {{ echo overlap {line}; exit 3; }}; "
        f"echo start {line}; "
        f'if [ "$RUNWATCH_ATTEMPT" = 1 ]; then {first}; '
        f"else sleep {later_seconds}; fi; echo end {line}"
    )


@dataclass(frozen=True)
class Mark:
    """One line of the marker file."""

    what: str
    logical_time: str
    attempt: int
    pid: int


def marks(marker: Path) -> list[Mark]:
    """The marker's lines, in the order they were appended."""
    if not marker.exists():
        return []
    found = []
    for line in marker.read_text().splitlines():
        what, logical_time, attempt, pid = line.split()
        found.append(Mark(what, logical_time, int(attempt), int(pid)))
    return found


class Serve:
    """A real `runwatch serve` process of a test, on the test's home and configuration."""

    def __init__(self, tmp: Path, config: Path) -> None:
        self.port = free_port()
        self.log = tmp / f"serve-{self.port}.log"
        argv = [sys.executable, "-m", "runner", "serve", "--config", str(config)]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [*argv, "--listen", f"127.0.0.1:{self.port}"],
                cwd=tmp,
                env=clean_env(tmp / "home"),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_for(self.serving, f"serve {self.proc.pid} to serve")

    @property
    def pid(self) -> int:
        """The serve process's pid."""
        return self.proc.pid

    def serving(self) -> bool:
        """True once its loop runs (signal handlers installed) and /healthz answers; fails
        at once if the process has exited."""
        if self.proc.poll() is not None:
            raise AssertionError(f"serve exited {self.proc.returncode}:\n{self.output()}")
        if not re.search(r"serving \d+ jobs", self.output()):
            return False
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=1):
                return True
        except OSError:
            return False

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the serve alone (its commands run in sessions of their own)."""
        with contextlib.suppress(ProcessLookupError):
            self.proc.send_signal(signum)

    def kill(self) -> None:
        """SIGKILL it and reap it."""
        self.signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self) -> int:
        """SIGTERM it (SIGCONT first, in case it is stopped) and wait for its exit code."""
        self.signal(signal.SIGCONT)
        self.signal(signal.SIGTERM)
        return self.proc.wait(timeout=60)

    def output(self) -> str:
        """What it logged."""
        return self.log.read_text(errors="replace")


class Fleet:
    """The serve processes of one test; ``close`` kills those still running."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.started: list[Serve] = []

    def start(self, config: Path) -> Serve:
        """Start one more serve on ``config``."""
        serve = Serve(self.tmp, config)
        self.started.append(serve)
        return serve

    def supervising(self, store: Store) -> tuple[RunRecord, Serve]:
        """Once a run's command runs: that run and the serve supervising it."""
        wait_for(lambda: running_run(store) is not None, "a run's command to start")
        run = running_run(store)
        assert run is not None
        return run, next(s for s in self.started if s.pid == owner_pid(run))

    def close(self) -> None:
        """Kill (after SIGCONT) every serve still running."""
        for serve in self.started:
            if serve.proc.poll() is None:
                serve.signal(signal.SIGCONT)
                serve.kill()


def marked_job(command: str, *, retries: int) -> str:
    """A ``jobs:`` section with one job running ``command`` every 2 seconds (overlap:
    skip), retried ``retries`` times after 100 ms."""
    quoted = command.replace("'", "''")
    return (
        "jobs:\n  marked:\n    schedule: '* * * * * */2'\n    overlap: skip\n"
        f"    retries: {retries}\n    retry_delay: 100ms\n    command: '{quoted}'\n"
    )


def write_config(tmp: Path, command: str, *, retries: int) -> Path:
    """A configuration with the ``marked_job`` and a 1 s scheduler heartbeat (so a
    scheduler silent for 4 s is taken over)."""
    config = tmp / "runwatch.yaml"
    config.write_text("server:\n  heartbeat_interval: 1s\n" + marked_job(command, retries=retries))
    return config


def open_store(tmp: Path) -> Store:
    """The test's store, opened without recovering anything itself."""
    return Store.open(f"sqlite:///{tmp}/home/runwatch.db", recover=False)


def runs(store: Store) -> list[RunRecord]:
    """Every run, oldest first."""
    return sorted(store.list_runs(limit=10_000), key=lambda r: r.id)


def running_run(store: Store) -> RunRecord | None:
    """The run being executed now, once its command has started."""
    for run in runs(store):
        if run.state is RunState.RUNNING and any(a.pid for a in store.attempts(run.id)):
            return run
    return None


def owner_pid(run: RunRecord) -> int:
    """The pid of the process supervising ``run``."""
    assert run.supervisor is not None
    return int(run.supervisor.rsplit(":", 2)[1])


def assert_one_completion_per_fire_time(store: Store, marker: Path) -> None:
    """Per fire time one run and at most one completed execution of the command; never two
    executions at once; no run failed or left running; each success completed once."""
    found = runs(store)
    times = [r.logical_time for r in found]
    assert len(times) == len(set(times)), "a fire time got two runs"
    lines = marks(marker)
    assert not [m for m in lines if m.what == "overlap"], f"executions overlapped: {lines}"
    ends = Counter(m.logical_time for m in lines if m.what == "end")
    assert all(n == 1 for n in ends.values()), f"a fire time completed twice: {ends}"
    states = {r.id: r.state for r in found}
    assert RunState.RUNNING not in states.values()
    assert RunState.QUEUED not in states.values()
    assert RunState.FAILED not in states.values(), [(r.id, r.reason) for r in found]
    for run in found:
        if run.state is RunState.SUCCESS:
            assert ends[run.logical_time.isoformat()] == 1, f"run {run.id} never completed"
