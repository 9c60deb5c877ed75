"""Benchmarks of `runwatch serve` (issue: scheduler daemon). Results go to bench/README.md.

    python bench/scheduler_bench.py [lag|idle] [--seconds N]

lag:  a `* * * * * *` job and 20 every-minute jobs; the lag of each scheduled run is
      its first attempt's start minus its fire time (logical time), read from the store.
      Target: median <= 50 ms, p99 <= 250 ms.
idle: 1,000 jobs whose next fire time is an hour away; CPU time of the serve process
      over a quiet period, as a share of one core. Target: < 1 %.
"""

from __future__ import annotations

import argparse
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path


def _serve(workdir: Path, jobs_yaml: str) -> subprocess.Popen[bytes]:
    (workdir / "jobs.yaml").write_text(jobs_yaml)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNWATCH_", "OTEL_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["RUNWATCH_HOME"] = str(workdir / "home")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "runner",
            "serve",
            "--jobs",
            str(workdir / "jobs.yaml"),
            "--listen",
            "127.0.0.1:0",
        ],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def lag(seconds: float) -> dict[str, float]:
    """Fire-time-to-first-task-start lag under a per-second and 20 per-minute jobs: print
    it, and return its median and p99 in ms."""
    jobs = ["jobs:", "  every-second:", "    schedule: '* * * * * *'", "    command: 'true'"]
    for i in range(20):
        jobs += [f"  minute-{i}:", "    schedule: '* * * * *'", "    command: 'true'"]
    with tempfile.TemporaryDirectory() as tmp:
        proc = _serve(Path(tmp), "\n".join(jobs) + "\n")
        time.sleep(seconds)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
        db = sqlite3.connect(Path(tmp) / "home" / "runwatch.db")
        rows = db.execute(
            "SELECT r.job, r.logical_time, MIN(a.started_at) FROM runs r "
            "JOIN attempts a ON a.run_id = r.id WHERE r.trigger = 'schedule' "
            "GROUP BY r.id"
        ).fetchall()
    lags = [(started - logical) * 1000 for _, logical, started in rows]
    minute = [(s - lt) * 1000 for job, lt, s in rows if job.startswith("minute-")]
    print(
        f"lag over {len(lags)} scheduled runs ({len(minute)} of the per-minute jobs): "
        f"median {statistics.median(lags):.1f} ms, p99 {_percentile(lags, 0.99):.1f} ms, "
        f"max {max(lags):.1f} ms"
    )
    if minute:
        print(
            f"  per-minute jobs firing together: median {statistics.median(minute):.1f} ms, "
            f"max {max(minute):.1f} ms"
        )
    return {"median": statistics.median(lags), "p99": _percentile(lags, 0.99)}


def idle(seconds: float) -> float:
    """CPU share of serve with 1,000 jobs that fire in about an hour: print and return it
    as a percentage of one core."""
    in_an_hour = datetime.now(UTC) + timedelta(hours=1)
    expr = f"{in_an_hour.minute} {in_an_hour.hour} * * *"
    jobs = ["jobs:"]
    for i in range(1000):
        jobs += [f"  job-{i}:", f"    schedule: '{expr}'", "    command: 'true'"]
    with tempfile.TemporaryDirectory() as tmp:
        proc = _serve(Path(tmp), "\n".join(jobs) + "\n")
        time.sleep(15)  # start-up: imports, migrations, loading 1,000 jobs
        before, started = _cpu_seconds(proc.pid), time.monotonic()
        time.sleep(seconds)
        used, elapsed = _cpu_seconds(proc.pid) - before, time.monotonic() - started
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    print(
        f"idle: {used:.2f} s of CPU in {elapsed:.0f} s = {used / elapsed * 100:.2f}% of a core "
        "(1,000 jobs, next fire in an hour)"
    )
    return used / elapsed * 100


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("which", nargs="*", default=["lag", "idle"])
    parser.add_argument("--seconds", type=float, default=70.0)
    options = parser.parse_args()
    for name in options.which:
        {"lag": lag, "idle": idle}[name](options.seconds)
