"""The run history: filters by job, status, owner, tag and time; paginated in SQL."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import streamlit as st
from sqlalchemy import Connection

from dashboards.charts import run_state_icon
from dashboards.routes import Route, Screen, job_href, run_href
from dashboards.timezones import exact_duration_text, zone_of
from dashboards.viewer import Viewer
from dashboards.views.links import go, link_column, selected_row
from runner.model import RunState
from runner.store import dashboard_reads as queries
from runner.store.dashboard_reads.results import RunFilter, RunRow

PERIODS = {
    "last 24 hours": timedelta(hours=24),
    "last 7 days": timedelta(days=7),
    "last 30 days": timedelta(days=30),
    "all time": None,
    "dates…": None,
}
PAGE_SIZES = (25, 50, 100, 200)
ANY = "(any)"


def render(conn: Connection, viewer: Viewer, job: str | None = None) -> None:
    """Filters, one page of runs newest first, and a way to open any run by id."""
    st.header("Runs")
    names, owners, tags = queries.filter_options(conn)
    filters, size = _filters(viewer, names, owners, tags, job)
    requested = int(st.session_state.get("runs-page", 1))
    page = queries.runs_page(conn, filters, requested, size)
    if page.number != requested:  # the filters changed and left fewer pages
        st.session_state["runs-page"] = page.number
    cols = st.columns([1, 1, 4])
    cols[0].number_input("Page", min_value=1, max_value=page.pages, step=1, key="runs-page")
    opened = cols[1].number_input("Open run #", min_value=0, value=0, step=1, key="runs-open")
    if opened:
        go(Route(Screen.RUN, run_id=int(opened)))
    first = (page.number - 1) * page.size + 1 if page.total else 0
    last = first + len(page.items) - 1 if page.items else 0
    cols[2].caption(
        f"{page.total} runs match · showing {first} to {last} · page {page.number} of {page.pages}"
    )
    _table(list(page.items), viewer)


def _filters(
    viewer: Viewer, names: list[str], owners: list[str], tags: list[str], job: str | None
) -> tuple[RunFilter, int]:
    cols = st.columns([3, 2, 2, 2, 2, 1])
    default_jobs = [job] if job in names else []
    jobs = cols[0].multiselect("Job", names, default=default_jobs, key="runs-job")
    states = cols[1].multiselect(
        "Status", ["queued", "running", "success", "failed", "cancelled"], key="runs-state"
    )
    owner = cols[2].selectbox("Owner", [ANY, *owners], key="runs-owner")
    tag = cols[3].selectbox("Tag", [ANY, *tags], key="runs-tag")
    period = cols[4].selectbox("Time", list(PERIODS), index=1, key="runs-period")
    size = cols[5].selectbox("Per page", PAGE_SIZES, index=1, key="runs-size")
    since, until = _period(viewer, period)
    return (
        RunFilter(
            jobs=tuple(jobs),
            states=tuple(RunState(s) for s in states),
            owner=None if owner == ANY else owner,
            tag=None if tag == ANY else tag,
            since=since,
            until=until,
        ),
        int(size),
    )


def _period(viewer: Viewer, period: str) -> tuple[datetime | None, datetime | None]:
    span = PERIODS[period]
    if span is not None:
        return viewer.now - span, None
    if period != "dates…":
        return None, None
    today = viewer.now.astimezone(zone_of(viewer.zone)).date()
    picked = st.date_input(
        "Queued between (your timezone)", (today - timedelta(days=7), today), key="runs-dates"
    )
    days = [d for d in (picked if isinstance(picked, tuple) else (picked,)) if isinstance(d, date)]
    if not days:
        return None, None
    zone = zone_of(viewer.zone)
    start = datetime.combine(days[0], datetime.min.time(), zone)
    end = datetime.combine(days[-1] + timedelta(days=1), datetime.min.time(), zone)
    return start, end


def _table(items: list[RunRow], viewer: Viewer) -> None:
    rows = [
        {
            "run": run_href(r.id),
            "job": job_href(r.job),
            "status": run_state_icon(r.state),
            "trigger": r.trigger.value,
            "logical time": viewer.time(r.logical_time, "%Y-%m-%d %H:%M"),
            "started": viewer.time(r.started_at, "%m-%d %H:%M:%S"),
            "duration": exact_duration_text(r.duration_seconds),
            "reason": r.reason or "",
        }
        for r in items
    ]
    event = st.dataframe(
        rows,
        hide_index=True,
        key="runs-table",
        on_select="rerun",
        selection_mode="single-row",
        column_config={  # widths that fit a 1280 px window; the run page has the rest
            "run": link_column("run", r"\?run=(\d+)", width=55),
            "job": link_column("job", r"\?job=(.*)", width=120),
            "status": st.column_config.TextColumn("status", width=90),
            "trigger": st.column_config.TextColumn("trigger", width=75),
            "logical time": st.column_config.TextColumn(f"logical time ({viewer.zone})", width=130),
            "started": st.column_config.TextColumn(f"started ({viewer.zone})", width=115),
            "duration": st.column_config.TextColumn("duration", width=90),
            "reason": st.column_config.TextColumn("reason", width=120),
        },
    )
    picked = selected_row(event)
    if picked is not None and picked < len(items):
        go(Route(Screen.RUN, run_id=items[picked].id))
