"""What wrap tests share: reports to record, and `runwatch wrap` as a real process (the
e2e tests import ``finished_report``, ``wrap_env`` and ``make_wrap`` from here)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from runner.wrap.report import FAILED, SUCCESS, JobSpec, RunReport, new_report_id

Wrap = Callable[..., subprocess.CompletedProcess[bytes]]


def finished_report(
    job: str = "nightly",
    *,
    at: float = 1_800_000_000.0,
    exit_codes: tuple[int, ...] = (0,),
    spec: JobSpec | None = None,
) -> RunReport:
    """A wrapped run that ended: one attempt per exit code, the last one decides."""
    report = RunReport(new_report_id(), spec or JobSpec(job), at, supervisor="host:1:1")
    moment = at
    for number, code in enumerate(exit_codes, start=1):
        attempt = report.start_attempt(moment)
        moment += 1.5
        state = SUCCESS if code == 0 else FAILED
        attempt.finish(
            state,
            moment,
            exit_code=code,
            error=None if code == 0 else f"boom {number}",
            reason=None if code == 0 else f"exit code {code}",
            will_retry=state == FAILED and number < len(exit_codes),
        )
    state = SUCCESS if exit_codes[-1] == 0 else FAILED
    report.finish(state, moment, None if state == SUCCESS else f"failed: {report.task}")
    return report


def wrap_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a wrapped cron job using ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNWATCH_", "OTEL_"))}
    env["RUNWATCH_HOME"] = str(home)
    env.update(extra)
    return env


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """RUNWATCH_HOME of the wrapped jobs."""
    return tmp_path / "home"


def make_wrap(cwd: Path, home: Path) -> Wrap:
    """A function running `runwatch wrap ARGS` as a process (bytes in, bytes out)."""

    def call(
        *args: str, env: dict[str, str] | None = None, timeout: float = 60, **kwargs: object
    ) -> subprocess.CompletedProcess[bytes]:
        streams: dict[str, object] = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
        return subprocess.run(
            [sys.executable, "-m", "runner", "wrap", *args],
            cwd=cwd,
            env=env or wrap_env(home),
            timeout=timeout,
            check=False,
            **{**streams, **kwargs},  # type: ignore[arg-type]
        )

    return call


@pytest.fixture
def wrap(tmp_path: Path, home: Path) -> Wrap:
    """Runs `runwatch wrap ARGS` as a process."""
    return make_wrap(tmp_path, home)
