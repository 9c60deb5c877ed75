"""`runwatch dashboard` end to end: the real command, a real Streamlit server, and the
page rendered by headless Chromium."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.store.store import Store
from tests.dashboards.seed import seed, seed_fast_run
from tests.dashboards.test_cli import OTHER_COMPONENTS_SECRETS
from tests.e2e.dashboard import BROWSER_TEST_TIMEOUT, Browser, serve_dashboard

DRAWN_PNG_BYTES = 40_000
"""A drawn overview is >100 kB as PNG; Streamlit's loading skeleton is ~10 kB."""
NARROW = 1280
# Glide's grid: the scroller is as wide as the page lets it be, its content as wide as
# the columns; wider content means columns are cut off behind a horizontal scroll bar.
_GRID = re.compile(
    r'dvn-scroller[^"]*" style="width: (\d+)px;[^"]*">'
    r'<div class="dvn-scroll-inner[^"]*"><div class="dvn-stack"><div style="width: (\d+)px;'
)


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[str]:
    """`runwatch dashboard` on a free loopback port over a seeded store (with the fast
    run, #15), started where runwatch.yaml names secrets nobody set; its URL."""
    url = f"sqlite:///{tmp_path / 'home' / 'runwatch.db'}"
    with Store.open(url) as store:
        seed(store, tmp_path / "home" / "logs")
        seed_fast_run(store)
    # secrets of other components, their variables unset: not the dashboard's business
    (tmp_path / "runwatch.yaml").write_text(OTHER_COMPONENTS_SECRETS)
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


@pytest.mark.timeout(BROWSER_TEST_TIMEOUT)
@pytest.mark.parametrize(
    ("page", "tables"),
    [("", 1), ("?page=runs", 1), ("?page=alerts", 2), ("?run=15", 1)],
)
def test_every_table_fits_a_1280_px_window(
    dashboard: str, tmp_path: Path, page: str, tables: int
) -> None:
    browser = Browser(tmp_path, width=NARROW, height=1400)
    dom = browser.dom(dashboard + page, lambda d: len(_GRID.findall(d)) >= tables)

    grids = [(int(shown), int(content)) for shown, content in _GRID.findall(dom)]
    assert all(content <= shown for shown, content in grids), grids
    shot = tmp_path / f"page-{NARROW}.png"
    browser.screenshot(dashboard + page, shot, min_bytes=DRAWN_PNG_BYTES)
