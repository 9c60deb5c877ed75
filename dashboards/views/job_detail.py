"""One job (``?job=NAME``): duration trend with p50/p95, daily outcomes, tasks, schedule."""

from __future__ import annotations

import streamlit as st
from sqlalchemy import Connection

from dashboards.charts import daily_strip, duration_trend
from dashboards.operations.panels import history, job_operations
from dashboards.routes import Route, Screen
from dashboards.schedule import next_fire_times
from dashboards.timezones import day_bounds, duration_text, local
from dashboards.viewer import Viewer
from dashboards.views import markdown as md
from dashboards.views.lineage import dataset_table
from dashboards.views.links import go
from runner.store import dashboard_reads as queries
from runner.store.dashboard_reads.datasets import Lineage, lineage
from runner.store.dashboard_reads.operations import operations
from runner.store.dashboard_reads.results import JobWait

NEXT_FIRES = 5


def render(conn: Connection, viewer: Viewer, name: str) -> None:
    """The job's schedule, its runs' durations and outcomes, and its tasks' retries."""
    days = day_bounds(viewer.now, viewer.zone, max(1, viewer.window.days or 1))
    detail = queries.job_detail(conn, name, viewer.now - viewer.window, days)
    if detail is None:
        st.error(f"The store knows no job named {md.text(repr(name))}.")
        return
    st.header(f"Job {md.text(detail.name)}")
    facts = [f"owner **{md.text(detail.owner)}**" if detail.owner else "no owner"]
    if detail.tags:
        facts.append("tags " + ", ".join(md.code(t) for t in detail.tags))
    if detail.paused:
        facts.append("⏸ **paused**")
    st.markdown(" · ".join(facts))
    if detail.description:
        st.caption(md.text(detail.description))
    found = lineage(conn, detail.name)
    wait = queries.job_wait(conn, detail.name, viewer.now)
    if wait is not None:
        _after(wait, detail.timezone, detail.paused)
    elif detail.schedule or not _on_datasets(found, detail.paused):
        _schedule(detail.schedule, detail.timezone, detail.paused, viewer)
    job_operations(viewer, detail.name, detail.paused)
    history(viewer, operations(conn, job=detail.name), "job-operations")
    if found.links:
        st.subheader("Datasets")
        dataset_table(found.links, found, viewer, "job-datasets")
    if st.button("All runs of this job", key="job-runs"):
        go(Route(Screen.RUNS, job=detail.name))
    window = viewer.window_name
    runs = sum(sum(d.counts.values()) for d in detail.daily)
    failed = sum(d.counts.get("failed", 0) for d in detail.daily)
    cols = st.columns(4)
    cols[0].metric(f"Runs ({len(days)} days)", runs)
    cols[1].metric(f"Failed ({len(days)} days)", failed)
    cols[2].metric(f"p50 duration ({window})", duration_text(detail.p50_seconds) or "—")
    cols[3].metric(f"p95 duration ({window})", duration_text(detail.p95_seconds) or "—")
    st.subheader("Duration per run")
    if detail.durations:
        chart = duration_trend(
            detail.durations, detail.p50_seconds, detail.p95_seconds, viewer.zone
        )
        st.vega_lite_chart(spec=chart, width="stretch", height=300)
    else:
        st.caption(f"No finished run in the last {window}.")
    st.subheader(f"Daily outcomes ({viewer.zone})")
    if runs:
        st.vega_lite_chart(spec=daily_strip(detail.daily), width="stretch", height=200)
    else:
        st.caption(f"No run in the last {len(days)} days.")
    st.subheader("Tasks: attempts and retries")
    if not detail.tasks:
        st.caption(f"No attempt in the last {window}.")
        return
    st.dataframe(
        [
            {
                "task": t.task,
                "attempts": t.attempts,
                "retries": t.retries,
                "failed attempts": t.failures,
                "p95 attempt": duration_text(t.p95_seconds),
            }
            for t in detail.tasks
        ],
        hide_index=True,
        key="job-tasks",
    )


def _after(wait: JobWait, timezone: str, paused: bool) -> None:
    upstream = ", ".join(md.code(j) for j in wait.after)
    st.markdown(
        f"**Schedule:** after {upstream}, once per {md.text(wait.period)} in "
        f"{md.text(timezone)}" + (" (paused)" if paused else "")
    )
    period = local(wait.period_start, timezone, "%a %Y-%m-%d %H:%M")
    if wait.waiting_for:
        names = ", ".join(md.code(j) for j in wait.waiting_for)
        st.warning(f"The run for the period from {period} waits for {names}.")
    else:
        st.caption(f"Nothing to wait for in the period from {period}.")


def _schedule(schedule: str | None, timezone: str, paused: bool, viewer: Viewer) -> None:
    if not schedule:
        st.markdown("**Schedule:** none (runs only when triggered)")
        return
    st.markdown(
        f"**Schedule:** {md.code(schedule)} in {md.text(timezone)}"
        + (" (paused)" if paused else "")
    )
    fires = next_fire_times(schedule, timezone, viewer.now, NEXT_FIRES)
    shown = [
        f"{local(f, timezone, '%a %Y-%m-%d %H:%M')} ({viewer.time(f, '%H:%M')} {viewer.zone})"
        for f in fires
    ]
    if shown:
        st.caption("Next fire times: " + ", ".join(shown))


def _on_datasets(found: Lineage, paused: bool) -> bool:
    """Say which datasets a data-aware job runs on; False when it is not one."""
    triggers = [link for link in found.links if link.direction in ("on_all", "on_any")]
    if not triggers:
        return False
    which = "any" if triggers[0].direction == "on_any" else "all"
    st.markdown(
        f"**Schedule:** when {which} of these datasets were updated: "
        + ", ".join(md.code(link.dataset.uri) for link in triggers)
        + (" (paused)" if paused else "")
    )
    return True
