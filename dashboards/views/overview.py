"""The first screen: what is broken, since when, and why; then every job, worst first."""

from __future__ import annotations

import streamlit as st
from sqlalchemy import Connection

from dashboards.charts import run_state_icon
from dashboards.health import job_overview
from dashboards.routes import Route, Screen, job_href, run_href
from dashboards.timezones import duration_text, start_of_day
from dashboards.viewer import Viewer
from dashboards.views import markdown as md
from dashboards.views.links import go, link_column, selected_row
from runner import scheduler_liveness
from runner.store import dashboard_reads as queries
from runner.store.dashboard_reads.results import Headline, Health, JobOverview

HEALTH_ICONS = {
    Health.FAILING: "🔴",
    Health.LATE: "🟠",
    Health.RUNNING: "🔵",
    Health.OK: "🟢",
    Health.NEVER_RAN: "⚪",
    Health.PAUSED: "⏸",
}
ATTENTION_SHOWN = 15


def render(conn: Connection, viewer: Viewer) -> None:
    """Headline numbers, the broken jobs spelled out, and the filterable job table."""
    jobs = job_overview(conn, viewer.now, viewer.window)
    head = queries.headline(conn, viewer.now, start_of_day(viewer.now, viewer.zone))
    st.header("Overview")
    _headline(head, jobs, viewer)
    _attention([j for j in jobs if j.health.broken], viewer)
    shown = _filtered(jobs)
    st.subheader(f"Jobs ({len(shown)} of {len(jobs)})")
    _table(shown, viewer)


def _headline(head: Headline, jobs: list[JobOverview], viewer: Viewer) -> None:
    failing = sum(j.health is Health.FAILING for j in jobs)
    late = sum(j.health is Health.LATE for j in jobs)
    cols = st.columns([1, 1, 1, 1, 1, 2])  # the heartbeat's age is the longest value
    cols[0].metric("Failing jobs", failing)
    cols[1].metric("Late jobs", late)
    cols[2].metric(
        "Runs today",
        head.runs_today,
        help=f"queued since midnight ({viewer.zone}); {head.running} running now",
    )
    cols[3].metric("Failures today", head.failed_today)
    cols[4].metric(
        "Firing alerts",
        "n/a" if head.firing_alerts is None else head.firing_alerts,
        help=None if head.firing_alerts is not None else "the store has no alerting tables",
    )
    if head.heartbeat_at is None:
        cols[5].metric("Scheduler seen", "never", help="no `runwatch serve` has run")
        return
    state = (
        f" ({head.heartbeat_state})"
        if head.heartbeat_state not in (None, scheduler_liveness.RUNNING)
        else ""
    )
    cols[5].metric(
        "Scheduler seen",
        viewer.age(head.heartbeat_at) + state,
        help=f"the scheduler's last heartbeat: {viewer.time(head.heartbeat_at)}",
    )
    if state or not scheduler_liveness.is_alive(
        head.heartbeat_at.timestamp(), viewer.now.timestamp()
    ):
        st.warning(
            f"The scheduler was last seen {viewer.age(head.heartbeat_at)}{md.text(state)}: "
            "scheduled runs may not be starting."
        )


def _attention(broken: list[JobOverview], viewer: Viewer) -> None:
    if not broken:
        st.success("Nothing is failing or late.")
        return
    lines = []
    for job in broken[:ATTENTION_SHOWN]:
        what = "failing" if job.health is Health.FAILING else "late"
        since = f" since {viewer.when(job.since)}" if job.since else ""
        run = (
            f" · last run [#{job.last_run_id}]({run_href(job.last_run_id)})"
            if job.last_run_id
            else ""
        )
        why = f" — {md.text(job.why)}" if job.why else ""
        alerts = f" · 🔔 {job.firing_alerts}" if job.firing_alerts else ""
        lines.append(
            f"- {HEALTH_ICONS[job.health]} **[{md.text(job.name)}]({job_href(job.name)})** "
            f"{what}{since}{run}{alerts}{why}"
        )
    more = len(broken) - ATTENTION_SHOWN
    if more > 0:
        lines.append(f"- … and {more} more (first in the table below)")
    st.markdown("**Needs attention**\n\n" + "\n".join(lines))


def _filtered(jobs: list[JobOverview]) -> list[JobOverview]:
    owners = sorted({j.owner for j in jobs if j.owner})
    tags = sorted({t for j in jobs for t in j.tags})
    cols = st.columns([2, 2, 2, 3])
    health = cols[0].multiselect("Status", [h.value for h in Health], key="ov-health")
    owner = cols[1].multiselect("Owner", owners, key="ov-owner")
    tag = cols[2].multiselect("Tag", tags, key="ov-tag")
    text = cols[3].text_input("Job name contains", key="ov-search").strip().lower()
    return [
        j
        for j in jobs
        if (not health or j.health.value in health)
        and (not owner or j.owner in owner)
        and (not tag or set(tag) & set(j.tags))
        and (not text or text in j.name.lower())
    ]


def _table(jobs: list[JobOverview], viewer: Viewer) -> None:
    """What is wrong with each job in a table that fits the page; its statistics, owner
    and tags in a second table behind an expander."""
    window = viewer.window_name
    event = st.dataframe(
        [
            {
                "status": f"{HEALTH_ICONS[j.health]} {j.health.value}",
                "job": job_href(j.name),
                "last run": run_state_icon(j.last_state),
                "run": run_href(j.last_run_id) if j.last_run_id else None,
                "since": viewer.age(j.since),
                "why": j.why or "",
                "success rate": j.success_rate,
            }
            for j in jobs
        ],
        hide_index=True,
        key="ov-jobs",
        height=min(40 + 35 * len(jobs), 740),
        on_select="rerun",
        selection_mode="single-row",
        column_config={
            "status": st.column_config.TextColumn("status", width=100),
            "job": link_column("job", r"\?job=(.*)", width=140),
            "last run": st.column_config.TextColumn("last run", width=100),
            "run": link_column("run #", r"\?run=(\d+)", width=60),
            "since": st.column_config.TextColumn("since", width=100),
            "why": st.column_config.TextColumn("why", width=170, help="spelled out above"),
            "success rate": st.column_config.ProgressColumn(
                f"success ({window})", format="percent", min_value=0.0, max_value=1.0, width=110
            ),
        },
    )
    picked = selected_row(event)
    if picked is not None and picked < len(jobs):
        go(Route(Screen.JOB, job=jobs[picked].name))
    with st.expander(f"Statistics, schedule and owners ({window})"):
        st.dataframe(
            [
                {
                    "job": j.name,
                    "last success": viewer.age(j.last_success_at) or "never",
                    "next run": viewer.time(j.next_run_at, "%m-%d %H:%M") if j.next_run_at else "",
                    "p95": duration_text(j.p95_seconds),
                    "runs": j.window_runs,
                    "failures": j.window_failures,
                    "alerts": j.firing_alerts,
                    "owner": j.owner or "",
                    "tags": ", ".join(j.tags),
                    "paused": j.paused,
                }
                for j in jobs
            ],
            hide_index=True,
            key="ov-jobs-more",
            column_config={
                "job": st.column_config.TextColumn("job", width=130),
                "last success": st.column_config.TextColumn("last success", width=100),
                "next run": st.column_config.TextColumn(f"next run ({viewer.zone})", width=110),
                "p95": st.column_config.TextColumn("p95", width=70),
                "runs": st.column_config.NumberColumn("runs", width=55),
                "failures": st.column_config.NumberColumn("failures", width=65),
                "alerts": st.column_config.NumberColumn("firing alerts", width=80),
                "owner": st.column_config.TextColumn("owner", width=80),
                "tags": st.column_config.TextColumn("tags", width=80),
                "paused": st.column_config.CheckboxColumn("paused", width=60),
            },
        )
