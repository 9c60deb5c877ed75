"""`runwatch dashboard` end to end: the real command, a real Streamlit server, and the
page rendered by headless Chromium (Streamlit draws client-side, so the DOM is read
after the browser ran the app's JavaScript)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.store.store import Store
from tests.dashboards.seed import seed
from tests.e2e.cli import find_binary, free_port

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
START_TIMEOUT = 60.0
RENDER_TIMEOUT = 90.0
DRAWN_PNG_BYTES = 40_000
"""A drawn overview is >100 kB as PNG; Streamlit's loading skeleton is ~10 kB."""


def _wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"runwatch dashboard exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url + "_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    pytest.fail(f"the dashboard did not answer within {START_TIMEOUT:.0f} s:\n{log.read_text()}")


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[str]:
    """`runwatch dashboard` on a free loopback port over a seeded store; its URL."""
    url = f"sqlite:///{tmp_path / 'home' / 'runwatch.db'}"
    with Store.open(url) as store:
        seed(store, tmp_path / "home" / "logs")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNWATCH_", "OTEL_"))}
    env["RUNWATCH_HOME"] = str(tmp_path / "home")
    env["HOME"] = str(tmp_path)  # Streamlit keeps its machine id and credentials there
    log = tmp_path / "dashboard.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "runner", "dashboard", "--port", str(port), "--db", url],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}/"
    try:
        _wait_healthy(base, process, log)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _browse(
    chromium: str, profile: Path, *args: str, budget_ms: int
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            "--window-size=1600,1200",
            f"--virtual-time-budget={budget_ms}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_dashboard_renders_the_seeded_jobs_in_a_real_browser(
    dashboard: str, tmp_path: Path
) -> None:
    chromium = find_binary(*CHROMIUM, install="chromium")
    deadline = time.monotonic() + RENDER_TIMEOUT
    budget, dom = 5_000, ""
    while time.monotonic() < deadline:
        profile = tmp_path / f"profile-{budget}"
        result = _browse(chromium, profile, "--dump-dom", dashboard, budget_ms=budget)
        dom = result.stdout
        if "billing" in dom and "Failing jobs" in dom:
            break
        budget = min(budget * 2, 40_000)
    else:
        pytest.fail(f"the rendered page never showed the seeded jobs:\n{dom[-3000:]}")

    assert "Needs attention" in dom
    # the screenshot is taken when the budget runs out: retry until the page is drawn
    screenshot = tmp_path / "dashboard.png"
    for attempt in range(6):
        _browse(
            chromium,
            tmp_path / f"profile-shot-{attempt}",
            f"--screenshot={screenshot}",
            dashboard,
            budget_ms=budget,
        )
        if screenshot.exists() and screenshot.stat().st_size > DRAWN_PNG_BYTES:
            break
        budget = min(budget * 2, 40_000)
    assert screenshot.exists()
    assert screenshot.stat().st_size > DRAWN_PNG_BYTES, "the screenshot shows a blank page"
