"""Job data cannot inject Markdown into the dashboard: names, owners, tags, reasons,
error tails, trace ids and paths are shown as written, never as images, links or HTML
that a viewer's browser would load. Pages run by Streamlit's AppTest; what they render
is parsed as CommonMark (which Streamlit's renderer follows)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from dashboards.settings import DB_URL_VARIABLE, TRACE_URL_VARIABLE
from runner.model import Job, RunState, Task, TaskState, Trigger
from runner.store.store import Store
from tests.dashboards.apptest import run_app

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
IMAGE = "![x](http://evil.example/img.png)"
NAME = f"etl{IMAGE}"
HOSTILE = f"{IMAGE} <img src=http://evil.example/i.png> [click](http://evil.example) $x$ :red[r]"
Open = Callable[..., AppTest]


@pytest.fixture
def hostile_store(tmp_path: Path) -> tuple[str, int]:
    """A store whose job, run and attempt carry hostile text (as pings could send)."""
    url = f"sqlite:///{tmp_path / 'runwatch.db'}"
    job = Job(
        NAME,
        {"load": Task("load", command="false")},
        owner=HOSTILE,
        tags=(f"`{IMAGE}",),
        description=f"line one\n# heading\n{HOSTILE}",
        schedule="0 2 * * *",
    )
    start = NOW - timedelta(hours=1)
    with Store.open(url) as store:
        store.sync_jobs([job], start)
        run = store.create_run(job, start, Trigger.SCHEDULE, start)
        assert run is not None
        assert store.mark_run_started(run, start, trace_id=f"{IMAGE})")
        attempt = store.start_attempt(run, "load", start, log_dir=tmp_path / f"logs{IMAGE}")
        assert attempt is not None
        store.finish_attempt(
            attempt, TaskState.FAILED, start + timedelta(seconds=5), exit_code=1, error=HOSTILE
        )
        store.mark_run_finished(
            store.get_run(run.id), RunState.FAILED, start + timedelta(seconds=6), reason=HOSTILE
        )
    return url, run.id


@pytest.fixture
def open_page(hostile_store: tuple[str, int], monkeypatch: pytest.MonkeyPatch) -> Open:
    monkeypatch.setenv(DB_URL_VARIABLE, hostile_store[0])
    monkeypatch.setenv(TRACE_URL_VARIABLE, "https://tempo.example/trace/{trace_id}")

    def run(**params: str) -> AppTest:
        return run_app(NOW, **params)

    return run


def rendered_markdown(at: AppTest) -> list[str]:
    """Everything on the page that Streamlit renders as Markdown."""
    found: list[Any] = []
    for kind in ("markdown", "caption", "header", "subheader", "error", "warning", "info"):
        found += [element.value for element in getattr(at, kind)]
    found += [expander.label for expander in at.expander]
    return [str(value) for value in found]


def loaded_or_linked(markdown: str) -> list[str]:
    """Images, raw HTML, headings and links to anywhere but the dashboard itself (or the
    configured trace viewer), as CommonMark renders ``markdown``."""
    bad = []
    for block in MarkdownIt("commonmark").parse(markdown):
        for token in [block, *(block.children or [])]:
            if token.type in ("image", "html_inline", "html_block"):
                bad.append(f"{token.type}: {token.content or token.attrs}")
            if token.type == "link_open" and not str(token.attrs.get("href", "")).startswith(
                ("?", "https://tempo.example/")
            ):
                bad.append(f"link to {token.attrs.get('href')}")
            if token.type == "heading_open":
                bad.append("a heading from job data")
    return bad


def assert_shown_as_text(at: AppTest) -> None:
    texts = rendered_markdown(at)
    assert texts
    for markdown in texts:
        assert loaded_or_linked(markdown) == [], markdown
        assert "$x$" not in markdown, "LaTeX from job data"
        assert ":red[" not in markdown, "colour directives from job data"


def test_the_overview_shows_a_hostile_job_name_and_reason_as_text(open_page: Open) -> None:
    at = open_page()
    assert_shown_as_text(at)
    assert any("evil" in m for m in rendered_markdown(at)), "the job is listed"


def test_the_job_page_shows_hostile_owner_tags_and_description_as_text(open_page: Open) -> None:
    at = open_page(job=NAME)
    assert_shown_as_text(at)
    assert any("evil" in header for header in (h.value for h in at.header))


def test_a_hostile_job_name_in_the_url_is_shown_as_text(open_page: Open) -> None:
    at = open_page(job=f"nope{IMAGE}")
    assert_shown_as_text(at)
    assert "knows no job" in at.error[0].value


def test_the_run_page_shows_a_hostile_reason_error_trace_id_and_path_as_text(
    open_page: Open, hostile_store: tuple[str, int]
) -> None:
    at = open_page(run=str(hostile_store[1]))
    assert_shown_as_text(at)
    assert any("Reason" in e.value for e in at.error)
