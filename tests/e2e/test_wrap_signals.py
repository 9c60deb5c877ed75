"""A SIGTERM, SIGINT or SIGHUP at any moment of wrap's life closes the run as cancelled
with exit 128+N and never leaves the command running unsupervised.

Wrap is held at each named point of its start-up (``RUNWATCH_WRAP_PAUSE``) and signalled
exactly there; a randomized sweep then signals at arbitrary moments, including before
the handlers exist (interpreter start-up), where no run and no command may be left.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runner.model import RunState
from runner.store.store import Store
from runner.wrap.checkpoints import PAUSE_VARIABLE, POINTS
from tests.runner.wrap.conftest import wrap_env

DEADLINE_SECONDS = 30.0
BEFORE_THE_COMMAND = POINTS[: POINTS.index("spawning") + 1]
SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


def start_wrap(home: Path, tmp_path: Path, pause: str | None = None) -> subprocess.Popen[bytes]:
    """`runwatch wrap` around a shell that writes its pid and then runs until stopped."""
    script = f"echo $$ > {tmp_path / 'pid'}; while :; do sleep 0.05; done"
    extra = {PAUSE_VARIABLE: pause} if pause else {}
    return subprocess.Popen(
        [sys.executable, "-m", "runner", "wrap", "--job", "sig", "--", "sh", "-c", script],
        env=wrap_env(home, **extra),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait_at_point(fifo: Path, process: subprocess.Popen[bytes]) -> str:
    """The name of the point wrap announces on the FIFO (it then waits there)."""
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    received = b""
    deadline = time.monotonic() + DEADLINE_SECONDS
    try:
        while not received.endswith(b"\n"):
            assert process.poll() is None, process.stderr.read() if process.stderr else b""
            assert time.monotonic() < deadline, "wrap never reached the point"
            with contextlib.suppress(BlockingIOError):
                received += os.read(fd, 100)
            time.sleep(0.005)
    finally:
        os.close(fd)
    return received.decode().strip()


def release(fifo: Path) -> None:
    """Let wrap go on from its point: open the FIFO for writing once it reads, and close."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        try:
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
            return
        except OSError as exc:
            if exc.errno != errno.ENXIO or time.monotonic() > deadline:
                raise
            time.sleep(0.005)


def command_alive(tmp_path: Path) -> bool:
    pid_file = tmp_path / "pid"
    if not pid_file.exists() or not pid_file.read_text().strip():
        return False
    try:
        os.kill(int(pid_file.read_text()), 0)
    except ProcessLookupError:
        return False
    return True


def stored_runs(home: Path) -> list[tuple[RunState, str | None]]:
    if not (home / "runwatch.db").exists():
        return []
    with Store.open(f"sqlite:///{home / 'runwatch.db'}") as store:
        return [(run.state, run.reason) for run in store.list_runs()]


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: signal.Signals(s).name)
@pytest.mark.parametrize("point", POINTS)
def test_a_signal_at_each_point_of_start_up_cancels_the_run_with_128_plus_n(
    point: str, signum: int, home: Path, tmp_path: Path
) -> None:
    fifo = tmp_path / "pause"
    os.mkfifo(fifo)
    process = start_wrap(home, tmp_path, f"{point}:{fifo}")

    assert wait_at_point(fifo, process) == point
    process.send_signal(signum)
    release(fifo)
    _, stderr = process.communicate(timeout=DEADLINE_SECONDS)

    assert process.returncode == 128 + signum, stderr
    name = signal.Signals(signum).name
    (run,) = stored_runs(home)
    assert run == (RunState.CANCELLED, f"interrupted by {name}")
    assert (tmp_path / "pid").exists() == (point not in BEFORE_THE_COMMAND)
    assert not command_alive(tmp_path)


def test_signals_at_random_moments_never_leave_a_run_open_or_a_command_running(
    tmp_path: Path,
) -> None:
    chance = random.Random()
    seed = chance.randrange(1 << 30)
    chance.seed(seed)
    for trial in range(12):
        home, work = tmp_path / f"home{trial}", tmp_path / f"work{trial}"
        work.mkdir()
        signum = chance.choice(SIGNALS)
        process = start_wrap(home, work)
        time.sleep(chance.uniform(0.0, 0.4))  # the experiment: a moment chosen at random
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=DEADLINE_SECONDS)

        context = f"seed {seed}, trial {trial}, {signal.Signals(signum).name}: {stderr!r}"
        runs = stored_runs(home)
        if runs:
            assert process.returncode == 128 + signum, context
            assert [state for state, _ in runs] == [RunState.CANCELLED], context
        else:  # signalled before wrap installed its handlers (the interpreter starting,
            # which may die of SIGINT with a traceback and 1): nothing was started
            assert process.returncode != 0, context
            assert not (work / "pid").exists(), context
        assert not command_alive(work), context
