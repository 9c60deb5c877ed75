"""`runwatch dashboard` end to end: the real command, a real Streamlit server, and the
page rendered by headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.store.store import Store
from tests.dashboards.seed import seed
from tests.e2e.dashboard import BROWSER_TEST_TIMEOUT, Browser, serve_dashboard

DRAWN_PNG_BYTES = 40_000
"""A drawn overview is >100 kB as PNG; Streamlit's loading skeleton is ~10 kB."""


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[str]:
    """`runwatch dashboard` on a free loopback port over a seeded store; its URL."""
    url = f"sqlite:///{tmp_path / 'home' / 'runwatch.db'}"
    with Store.open(url) as store:
        seed(store, tmp_path / "home" / "logs")
    with serve_dashboard(
        tmp_path, "--db", url, env={"RUNWATCH_HOME": str(tmp_path / "home")}
    ) as base:
        yield base


@pytest.mark.timeout(BROWSER_TEST_TIMEOUT)
def test_the_dashboard_renders_the_seeded_jobs_in_a_real_browser(
    dashboard: str, tmp_path: Path
) -> None:
    browser = Browser(tmp_path)
    dom = browser.dom(dashboard, lambda d: "billing" in d and "Failing jobs" in d)

    assert "Needs attention" in dom
    shot = browser.screenshot(dashboard, tmp_path / "dashboard.png", min_bytes=DRAWN_PNG_BYTES)
    assert shot.stat().st_size > DRAWN_PNG_BYTES, "the screenshot shows a blank page"
