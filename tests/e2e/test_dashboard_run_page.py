"""The run page in a real browser: the Gantt drawn by Vega (as SVG) has one bar per
attempt, as wide as the attempt was long, however short it was."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from runner.store.store import Store
from tests.dashboards.seed import FAST_ATTEMPTS, seed, seed_fast_run
from tests.e2e.dashboard import BROWSER_TEST_TIMEOUT, Browser, serve_dashboard

_BAR = re.compile(
    r'<path aria-label="([^"]*)" role="graphics-symbol" aria-roledescription="bar" '
    r'd="M([-\d.e]+),([-\d.e]+)h([-\d.e]+)v[^"]*" fill="(#[0-9a-f]{6})"'
)
FAILED, SUCCESS = "#c62828", "#2e7d32"
MIN_BAR_PX = 2.0


def _bars(dom: str) -> dict[str, tuple[float, float, float, str]]:
    """Each drawn bar by its attempt (``transform #2``): x, y, width in px and fill."""
    bars = {}
    for label, x, y, width, fill in _BAR.findall(dom):
        attempt = re.search(r"attempt: ([^;]+);", label)
        assert attempt, label
        bars[attempt.group(1)] = (float(x), float(y), float(width), fill)
    return bars


@pytest.mark.timeout(BROWSER_TEST_TIMEOUT)
def test_every_attempt_of_a_fast_run_is_a_bar_as_wide_as_it_was_long(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'home' / 'runwatch.db'}"
    with Store.open(url) as store:
        seed(store, tmp_path / "home" / "logs")
        run_id = seed_fast_run(store)
    with serve_dashboard(
        tmp_path, "--db", url, env={"RUNWATCH_HOME": str(tmp_path / "home")}
    ) as base:
        page = f"{base}?run={run_id}"
        browser = Browser(tmp_path)
        dom = browser.dom(page, lambda d: len(_BAR.findall(d)) >= len(FAST_ATTEMPTS))
        browser.screenshot(page, tmp_path / "run.png", min_bytes=40_000)

    bars = _bars(dom)
    numbers: dict[str, int] = {}
    expected = {}
    for task, start, end, _state in FAST_ATTEMPTS:
        numbers[task] = numbers.get(task, 0) + 1
        expected[f"{task} #{numbers[task]}"] = end - start
    assert set(bars) == set(expected)
    # the task tried three times: three segments on one row, in their states' colours
    transform = [bars[f"transform #{n}"] for n in (1, 2, 3)]
    assert len({y for _x, y, _w, _f in transform}) == 1
    assert [fill for *_, fill in transform] == [FAILED, FAILED, SUCCESS]
    assert transform[0][0] < transform[1][0] < transform[2][0]
    # sub-second attempts are drawn: none thinner than a visible bar...
    assert min(width for _x, _y, width, _f in bars.values()) >= MIN_BAR_PX
    # ...and those longer than the minimum are as wide as they were long
    span = max(end for _task, _start, end, _state in FAST_ATTEMPTS)
    px_per_second = bars["load #1"][2] / expected["load #1"]
    for attempt, seconds in expected.items():
        if seconds > span / 50:
            assert abs(bars[attempt][2] - seconds * px_per_second) <= 1.5, attempt
