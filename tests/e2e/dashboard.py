"""A real `runwatch dashboard` on a loopback port and headless Chromium to render it.

Streamlit draws client-side, so a page is read (``--dump-dom``) or photographed
(``--screenshot``) only after the browser ran the app's JavaScript: each is retried
with a longer virtual-time budget until the page shows what the test waits for.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.e2e.cli import find_binary, free_port

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
START_TIMEOUT = 60.0
RENDER_TIMEOUT = 120.0
FIRST_BUDGET_MS = 5_000
LAST_BUDGET_MS = 40_000
BROWSER_TEST_TIMEOUT = 420
"""pytest-timeout for a test that starts the dashboard and looks at pages (a loaded
2-core machine needs 10-20 s of Chromium per look)."""


def chromium() -> str:
    """The Chromium binary (skips, or fails under CI, when it is missing)."""
    return find_binary(*CHROMIUM, install="chromium")


@contextmanager
def serve_dashboard(
    cwd: Path, *args: str, env: dict[str, str] | None = None, port: int | None = None
) -> Iterator[str]:
    """`runwatch dashboard ARGS` on ``port`` (default: a free one), run in ``cwd``; its
    base URL."""
    port = port or free_port()
    child = {k: v for k, v in os.environ.items() if not k.startswith(("RUNWATCH_", "OTEL_"))}
    child["HOME"] = str(cwd)  # Streamlit keeps its machine id and credentials there
    child.update(env or {})
    log = cwd / "dashboard.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "runner", "dashboard", "--port", str(port), *args],
            cwd=cwd,
            env=child,
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


def browse(
    profile: Path, *args: str, budget_ms: int, width: int = 1600, height: int = 1200
) -> subprocess.CompletedProcess[str]:
    """One headless Chromium run with its own profile folder."""
    return subprocess.run(
        [
            chromium(),
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
            f"--window-size={width},{height}",
            f"--virtual-time-budget={budget_ms}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=150,
        check=False,
    )


class Browser:
    """Headless Chromium reading pages of one dashboard; the virtual-time budget that was
    enough for one page is where the next look starts."""

    def __init__(self, scratch: Path, width: int = 1600, height: int = 1200) -> None:
        self.scratch = scratch
        self.width = width
        self.height = height
        self.budget_ms = FIRST_BUDGET_MS
        self._profiles = 0

    def _browse(self, *args: str) -> subprocess.CompletedProcess[str]:
        self._profiles += 1
        profile = self.scratch / f"chromium-profile-{self._profiles}"
        return browse(
            profile, *args, budget_ms=self.budget_ms, width=self.width, height=self.height
        )

    def _longer(self) -> None:
        self.budget_ms = min(self.budget_ms * 2, LAST_BUDGET_MS)

    def dom(self, url: str, ready: Callable[[str], bool]) -> str:
        """The page's DOM once ``ready`` says it is drawn; fails with its end otherwise."""
        deadline = time.monotonic() + RENDER_TIMEOUT
        dom = ""
        while time.monotonic() < deadline:
            dom = self._browse("--dump-dom", url).stdout
            if ready(dom):
                return dom
            self._longer()
        pytest.fail(f"{url} never finished drawing:\n{dom[-3000:]}")

    def screenshot(self, url: str, path: Path, *, min_bytes: int) -> Path:
        """A PNG of the page, retaken with longer budgets until it is at least
        ``min_bytes`` (Streamlit's loading skeleton is ~10 kB)."""
        deadline = time.monotonic() + RENDER_TIMEOUT
        while time.monotonic() < deadline:
            self._browse(f"--screenshot={path}", url)
            if path.exists() and path.stat().st_size >= min_bytes:
                return path
            self._longer()
        pytest.fail(f"the screenshot of {url} stayed blank")
