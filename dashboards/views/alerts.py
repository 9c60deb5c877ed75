"""Alerts: firing and recently resolved ones with their notifications, active silences."""

from __future__ import annotations

import streamlit as st
from sqlalchemy import Connection

from dashboards.operations.panels import alert_operations, history
from dashboards.routes import job_href
from dashboards.viewer import Viewer
from dashboards.views import markdown as md
from dashboards.views.links import link_column
from runner.dashboard_access import Action
from runner.store import dashboard_reads as queries
from runner.store.dashboard_reads.operations import ALERTS_JOB, OperationRow, operations
from runner.store.dashboard_reads.results import AlertRow

SEVERITY_ICONS = {"critical": "🔴", "page": "🔴", "error": "🔴", "warning": "🟠", "info": "🔵"}


def render(conn: Connection, viewer: Viewer) -> None:
    """Firing alerts first, then the ones resolved within the window, then silences."""
    st.header("Alerts")
    if not queries.has_alerting(conn):
        st.info("This store has no alerting tables: alerting is not set up.")
        return
    view = queries.alerts_view(conn, viewer.now, viewer.now - viewer.window)
    done = operations(conn, job=ALERTS_JOB)
    st.subheader(f"Firing ({len(view.firing)})")
    if view.firing:
        _alerts(view.firing, viewer, "firing")
        _acknowledged(view.firing, done, viewer)
    else:
        st.success("No alert is firing.")
    st.subheader(f"Resolved in the last {viewer.window_name} ({len(view.resolved)})")
    if view.resolved:
        _alerts(view.resolved, viewer, "resolved")
    st.subheader(f"Active silences ({len(view.silences)})")
    if view.silences:
        st.dataframe(
            [
                {
                    "matchers": ", ".join(s.matchers),
                    "until": viewer.when(s.ends_at),
                    "since": viewer.time(s.starts_at),
                    "author": s.author,
                    "comment": s.comment,
                }
                for s in view.silences
            ],
            hide_index=True,
            key="alerts-silences",
        )
    else:
        st.caption("None.")
    alert_operations(viewer, view.firing, view.silences)
    history(viewer, done, "alerts-operations")


def _acknowledged(firing: tuple[AlertRow, ...], done: list[OperationRow], viewer: Viewer) -> None:
    """Who acknowledged which firing alert (the newest acknowledgement of each)."""
    latest = {o.subject: o for o in reversed(done) if o.action == Action.ACKNOWLEDGE.value}
    acked = [(a, latest[a.fingerprint]) for a in firing if a.fingerprint in latest]
    if acked:
        st.caption(
            "Acknowledged: "
            + "; ".join(
                f"{md.text(a.alertname)} · {md.text(a.job)} by {md.text(o.user)} "
                f"({viewer.age(o.at)})"
                for a, o in acked
            )
        )


def _alerts(found: tuple[AlertRow, ...], viewer: Viewer, kind: str) -> None:
    st.dataframe(
        [
            {
                "severity": f"{SEVERITY_ICONS.get(a.severity, '⚪')} {a.severity}",
                "alert": a.alertname + (" (flapping)" if a.flapping else ""),
                "job": job_href(a.job),
                "since": viewer.when(a.starts_at),
                **({"resolved": viewer.when(a.ends_at)} if kind == "resolved" else {}),
                "summary": a.summary or "",
                "notifications": len(a.notifications),
            }
            for a in found
        ],
        hide_index=True,
        key=f"alerts-{kind}",
        column_config={  # widths that fit a 1280 px window; labels are in the expander
            "severity": st.column_config.TextColumn("severity", width=95),
            "alert": st.column_config.TextColumn("alert", width=130),
            "job": link_column("job", r"\?job=(.*)", width=100),
            "since": st.column_config.TextColumn("since", width=150),
            "resolved": st.column_config.TextColumn("resolved", width=150),
            "summary": st.column_config.TextColumn(
                "summary", width=200 if kind == "firing" else 100
            ),
            "notifications": st.column_config.NumberColumn("notifications", width=90),
        },
    )
    with st.expander(f"Labels and full summaries of these alerts ({len(found)})"):
        st.markdown(
            "\n".join(
                f"- **{md.text(a.alertname)}** · {md.text(a.job)}: {md.text(a.summary or '')} "
                + " ".join(md.code(f"{k}={v}") for k, v in sorted(a.labels.items()))
                for a in found
            )
        )
    sent = [(a, n) for a in found for n in a.notifications]
    if not sent:
        return
    with st.expander(f"Notifications about these alerts ({len(sent)})", expanded=kind == "firing"):
        st.dataframe(
            [
                {
                    "alert": f"{a.alertname} · {a.job}",
                    "receiver": n.receiver,
                    "status": n.status.value,
                    "created": viewer.time(n.created_at, "%m-%d %H:%M:%S"),
                    "sent": viewer.time(n.sent_at, "%m-%d %H:%M:%S"),
                    "attempts": n.attempts,
                    "last error": n.last_error or "",
                }
                for a, n in sent
            ],
            hide_index=True,
            key=f"alerts-{kind}-notifications",
            column_config={
                "alert": st.column_config.TextColumn("alert", width=140),
                "receiver": st.column_config.TextColumn("receiver", width=120),
                "status": st.column_config.TextColumn("status", width=70),
                "created": st.column_config.TextColumn(f"created ({viewer.zone})", width=120),
                "sent": st.column_config.TextColumn(f"sent ({viewer.zone})", width=120),
                "attempts": st.column_config.NumberColumn("attempts", width=70),
                "last error": st.column_config.TextColumn("last error", width=140),
            },
        )
