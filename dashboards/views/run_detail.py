"""One run (``?run=ID``): its DAG, the attempts' timeline, exit codes, errors and logs."""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from sqlalchemy import Connection

from dashboards.charts import run_state_icon
from dashboards.gantt import AXIS_PIXELS, PAGE_ROWS, exit_text, gantt, height, pages, task_order
from dashboards.graph import graph_chart
from dashboards.logs import FULL_LOG_BYTES, read_full, tail
from dashboards.operations.panels import history, run_operations
from dashboards.routes import Route, Screen, job_href
from dashboards.timezones import duration_text, exact_duration_text, local_ms
from dashboards.viewer import Viewer
from dashboards.views import markdown as md
from dashboards.views.lineage import dataset_table
from dashboards.views.links import go
from runner.store import dashboard_reads as queries
from runner.store.dashboard_reads.datasets import lineage, run_updates
from runner.store.dashboard_reads.operations import operations
from runner.store.dashboard_reads.results import AttemptRow, RunDetail
from runner.store.run_graph import run_graph

ERROR_LINES = 20


def render(conn: Connection, viewer: Viewer, run_id: int) -> None:
    """Everything about one run; a clear message when there is no such run."""
    detail = queries.run_detail(conn, run_id)
    if detail is None:
        st.error(f"There is no run #{run_id} in this store (it may have been pruned).")
        if st.button("Back to the overview", key="run-back"):
            go(Route(Screen.OVERVIEW))
        return
    run = detail.run
    st.header(f"Run #{run.id} · {md.text(run.job)}")
    st.markdown(
        f"{run_state_icon(run.state)} · job [{md.text(run.job)}]({job_href(run.job)}) · "
        f"triggered by {run.trigger.value}"
    )
    _summary(detail, viewer)
    run_operations(viewer, run)
    st.subheader("Tasks")
    graph = run_graph(conn, run.id)
    st.vega_lite_chart(spec=graph_chart(detail.tasks, graph or {}), width="stretch")
    st.caption("Drag to pan, scroll to zoom; the path to a failure is drawn in red.")
    if graph is None and len(detail.tasks) > 1:
        st.caption(
            "This run was recorded before runwatch kept each run's graph: its task "
            "dependencies are unknown, so the tasks are drawn alone."
        )
    found = lineage(conn, run.job)
    if found.links:
        st.subheader("Datasets")
        dataset_table(found.links, found, viewer, "run-datasets", run_updates(conn, run.id))
    st.subheader("Timeline")
    _timeline(detail.attempts, viewer)
    _attempts_table(detail.attempts, viewer)
    _errors_and_logs(detail.attempts, viewer.settings.logs_dir)
    history(viewer, operations(conn, run_id=run.id), "run-operations")


def _summary(detail: RunDetail, viewer: Viewer) -> None:
    run = detail.run
    # short values, so the tiles fit a 1280 px window; the caption has the milliseconds
    cols = st.columns(4)
    cols[0].metric("Logical time", viewer.time(run.logical_time, "%m-%d %H:%M"))
    cols[1].metric("Started", viewer.time(run.started_at, "%H:%M:%S") or "—")
    cols[2].metric("Finished", viewer.time(run.finished_at, "%H:%M:%S") or "—")
    cols[3].metric("Duration", duration_text(run.duration_seconds) or "—")
    exact = [
        f"{label} {local_ms(moment, viewer.zone)}"
        for label, moment in (("started", run.started_at), ("finished", run.finished_at))
        if moment is not None
    ]
    if run.duration_seconds is not None:
        exact.append(f"took {exact_duration_text(run.duration_seconds)}")
    logical = f"logical time {viewer.time(run.logical_time)}"
    queued = f"queued {viewer.when(run.queued_at)}"
    st.caption(" · ".join([f"Times in {viewer.zone}", logical, *exact, queued]))
    if run.reason:
        st.error(f"Reason: {md.text(run.reason)}")
    if detail.trace_id:
        trace_id = detail.trace_id
        link = (
            _trace_link(viewer.settings.trace_url, trace_id) if md.is_trace_id(trace_id) else None
        )
        shown = f"[{trace_id}]({link})" if link else md.code(trace_id)
        st.markdown(f"**Trace:** {shown}")
    if detail.params:
        st.markdown("**Parameters**")
        st.table([{"name": k, "value": v} for k, v in sorted(detail.params.items())])


def _timeline(attempts: tuple[AttemptRow, ...], viewer: Viewer) -> None:
    """The Gantt of attempts; past a page of tasks, a page picker and a failed-only filter."""
    if not attempts:
        st.caption("No attempt has started yet.")
        return
    rows = task_order(attempts)
    if len(rows) > PAGE_ROWS:
        if st.toggle("Only tasks with a failed attempt", key="gantt-failed"):
            failed = {a.task for a in attempts if a.state.failed}
            rows = [t for t in rows if t in failed]
        if not rows:
            st.caption("No task of this run has a failed attempt.")
            return
        first, last = st.selectbox(
            "Task rows",
            pages(rows),
            format_func=lambda page: f"{page[0]:,} to {page[1]:,} of {len(rows):,}",
            key="gantt-page",
        )
        rows = rows[first - 1 : last]
    st.vega_lite_chart(
        spec=gantt(attempts, viewer.zone, viewer.now, rows),
        width="stretch",
        height=height(len(rows)) + AXIS_PIXELS,
    )


def _trace_link(template: str | None, trace_id: str) -> str | None:
    """``telemetry.trace_url`` with ``{trace_id}`` replaced (only that: Grafana URLs hold
    JSON, braces included)."""
    if not template or "{trace_id}" not in template:
        return None
    return template.replace("{trace_id}", trace_id)


def _attempts_table(attempts: tuple[AttemptRow, ...], viewer: Viewer) -> None:
    st.subheader("Attempts")
    if not attempts:
        st.caption("None yet.")
        return
    pools = any(a.pool for a in attempts)
    st.dataframe(
        [
            {
                "task": a.task,
                "attempt": a.number,
                "status": run_state_icon(a.state),
                "started": local_ms(a.started_at, viewer.zone, "%H:%M:%S"),
                "duration": exact_duration_text(a.duration_seconds) or "running",
                "exit code": exit_text(a),
                "reason": a.reason or "",
                "error": (a.error or "").strip().splitlines()[-1] if a.error else "",
                **({"pool": a.pool or ""} if pools else {}),
            }
            for a in attempts
        ],
        hide_index=True,
        key="run-attempts",
        column_config={  # widths that fit a 1280 px window; errors in full below
            "task": st.column_config.TextColumn("task", width=130),
            "attempt": st.column_config.NumberColumn("attempt", width=60),
            "status": st.column_config.TextColumn("status", width=95),
            "started": st.column_config.TextColumn(f"started ({viewer.zone})", width=100),
            "duration": st.column_config.TextColumn("duration", width=100),
            "exit code": st.column_config.TextColumn("exit code", width=70),
            "reason": st.column_config.TextColumn("reason", width=110),
            "error": st.column_config.TextColumn("error", width=150),
            "pool": st.column_config.TextColumn("pool", width=70),
        },
    )


def _errors_and_logs(attempts: tuple[AttemptRow, ...], logs_dir: str) -> None:
    st.subheader("Errors and logs")
    for a in attempts:
        title = f"{run_state_icon(a.state)} · {md.text(a.task)} · attempt {a.number}"
        failed = a.state.failed
        with st.expander(title, expanded=failed and a is _last_failed(attempts)):
            if a.error:
                st.markdown("**Error** (last lines)")
                st.code("\n".join(a.error.strip().splitlines()[-ERROR_LINES:]), language=None)
            for label, path in (("stdout", a.stdout_path), ("stderr", a.stderr_path)):
                _log(a, label, path, logs_dir)


def _last_failed(attempts: tuple[AttemptRow, ...]) -> AttemptRow | None:
    failed = [a for a in attempts if a.state.failed]
    return failed[-1] if failed else None


def _log(attempt: AttemptRow, label: str, path: str | None, logs_dir: str) -> None:
    found = tail(path, logs_dir)
    if found.missing:
        st.caption(f"{label}: {md.text(found.missing)}" + (f" ({md.text(path)})" if path else ""))
        return
    cut = " (end)" if found.truncated else ""
    st.markdown(f"**{label}**{cut} · {found.size:,} bytes")
    st.code(found.text or "(empty)", language=None)
    if not path:
        return
    key = f"log-{attempt.id}-{label}"
    name = Path(path).name
    if st.toggle("Show the full log", key=f"{key}-full"):
        data = read_full(path, logs_dir)
        more = " (first 5 MiB; download for the rest)" if found.size > FULL_LOG_BYTES else ""
        st.caption(f"full {label}{more}")
        st.code(data.decode("utf-8", errors="replace"), language=None)
    st.download_button(
        f"Download {label}",
        data=lambda: read_full(path, logs_dir, limit=None),
        file_name=name,
        key=f"{key}-download",
    )
