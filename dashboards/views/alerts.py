"""Alerts: firing and recently resolved ones with their notifications, active silences."""

from __future__ import annotations

import streamlit as st
from sqlalchemy import Connection

from dashboards.routes import job_href
from dashboards.viewer import Viewer
from dashboards.views.links import link_column
from runner.store import dashboard_reads as queries
from runner.store.dashboard_reads.results import AlertRow

SEVERITY_ICONS = {"critical": "🔴", "page": "🔴", "error": "🔴", "warning": "🟠", "info": "🔵"}


def render(conn: Connection, viewer: Viewer) -> None:
    """Firing alerts first, then the ones resolved within the window, then silences."""
    st.header("Alerts")
    if not queries.has_alerting(conn):
        st.info("This store has no alerting tables: alerting is not set up.")
        return
    view = queries.alerts_view(conn, viewer.now, viewer.now - viewer.window)
    st.subheader(f"Firing ({len(view.firing)})")
    if view.firing:
        _alerts(view.firing, viewer, "firing")
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
                "labels": ", ".join(f"{k}={v}" for k, v in sorted(a.labels.items())),
                "notifications": len(a.notifications),
            }
            for a in found
        ],
        hide_index=True,
        key=f"alerts-{kind}",
        column_config={"job": link_column("job", r"\?job=(.*)")},
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
                    "created": viewer.time(n.created_at),
                    "sent": viewer.time(n.sent_at),
                    "attempts": n.attempts,
                    "last error": n.last_error or "",
                }
                for a, n in sent
            ],
            hide_index=True,
            key=f"alerts-{kind}-notifications",
        )
