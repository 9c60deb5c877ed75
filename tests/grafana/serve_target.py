"""A real `runwatch serve` as the scrape target: example jobs that succeed, fail and retry
on second-level schedules, and an alert receiver that is down, so every family has data."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.e2e.cli import free_port

JOBS = """\
jobs:
  nightly-etl:
    schedule: "* * * * * */2"
    owner: data-team
    tasks:
      extract:
        command: "sleep 0.2"
      load:
        # fails on its first attempt, succeeds on the retry
        command: 'test "$RUNWATCH_ATTEMPT" -gt 1'
        after: [extract]
        retries: 1
        retry_delay: 0s
        outputs: ["postgres://warehouse:5432/analytics.public.orders"]
  always-fails:
    schedule: "* * * * * */3"
    owner: ops
    command: "exit 1"
"""

CONFIG = """\
jobs: [jobs.yaml]
server:
  heartbeat_interval: 1s
alerting:
  receivers:
    broken-hook:
      webhook: {{url: "http://127.0.0.1:{closed_port}/hook"}}
      max_attempts: 1
  route:
    receiver: broken-hook
    group_wait: 0s
    group_interval: 1s
    repeat_interval: 1s
  rules:
    - alert: JobFailed
      when: run_failed
      severity: critical
"""


@contextmanager
def serving_runwatch(workdir: Path) -> Iterator[str]:
    """Start `runwatch serve` in ``workdir``; yield its host:port; stop it afterwards."""
    port = free_port()
    (workdir / "jobs.yaml").write_text(JOBS)
    (workdir / "runwatch.yaml").write_text(CONFIG.format(closed_port=free_port()))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNWATCH_", "OTEL_"))}
    env["RUNWATCH_HOME"] = str(workdir / "home")
    log = (workdir / "serve.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "runner", "serve", "--listen", f"127.0.0.1:{port}"],
        cwd=workdir,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.close()
                    raise AssertionError(
                        "runwatch serve did not start:\n" + (workdir / "serve.log").read_text()
                    ) from None
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        log.close()
