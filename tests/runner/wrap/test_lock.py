"""The per-job lock behind `--overlap skip|wait`."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from runner.wrap.lock import JobLock

HOLDER = """
import sys, time
from runner.wrap.lock import JobLock
lock = JobLock(sys.argv[1], "job")
assert lock.acquire(wait=False)
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


def test_a_held_lock_turns_the_next_start_away(tmp_path: Path) -> None:
    first, second = JobLock(str(tmp_path), "job"), JobLock(str(tmp_path), "job")

    assert first.acquire(wait=False)
    assert not second.acquire(wait=False)
    first.release()
    assert second.acquire(wait=False)
    second.release()


def test_locks_of_different_jobs_are_independent(tmp_path: Path) -> None:
    one, other = JobLock(str(tmp_path), "one"), JobLock(str(tmp_path), "other")

    assert one.acquire(wait=False)
    assert other.acquire(wait=False)


def test_waiting_takes_the_lock_once_its_holder_exits(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path), "0.5"], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    assert holder.stdout.readline() == "held\n"
    started = time.monotonic()

    lock = JobLock(str(tmp_path), "job")
    assert lock.acquire(wait=True)

    assert time.monotonic() - started > 0.2
    holder.wait(timeout=10)
    holder.stdout.close()
    lock.release()


def test_a_killed_holder_leaves_no_stale_lock(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path), "30"], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout is not None
    assert holder.stdout.readline() == "held\n"
    holder.kill()
    holder.wait(timeout=10)
    holder.stdout.close()

    assert JobLock(str(tmp_path), "job").acquire(wait=False)
