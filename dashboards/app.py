"""The Streamlit app: ``runwatch dashboard`` runs ``streamlit run`` on this file.

A router by query parameters (``?run=ID``, ``?job=NAME``, ``?page=runs|alerts|lineage``) picks
the page; the sidebar holds navigation, the viewer's timezone, the statistics window and
the auto-refresh interval. The page body is a fragment that reruns at that interval.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

import streamlit as st
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from dashboards.database import connect_readonly, sqlite_path
from dashboards.operations.identity import login_controls
from dashboards.routes import Route, Screen
from dashboards.settings import DashboardSettings
from dashboards.timezones import zone_names
from dashboards.viewer import REFRESH, WINDOWS, Viewer
from dashboards.views import alerts, job_detail, lineage, overview, run_detail, runs
from dashboards.views.links import go
from runner.store import dashboard_reads as queries
from runner.store.database import parse_url
from runner.store.migrate import HEAD, REVISIONS

Clock = Callable[[], datetime]
_NAVIGATION = (
    ("Overview", Screen.OVERVIEW),
    ("Runs", Screen.RUNS),
    ("Alerts", Screen.ALERTS),
    ("Datasets", Screen.LINEAGE),
)


@st.cache_resource(show_spinner=False)
def _engine(url: str) -> Engine:
    """One read-only engine (and connection pool) per store, shared by every session."""
    return connect_readonly(url)


def main(clock: Clock | None = None) -> None:
    """Draw the page the URL asks for; ``clock`` gives "now" (tests pass a fixed one)."""
    st.set_page_config(page_title="runwatch", page_icon="⏱", layout="wide")
    settings = DashboardSettings.from_env(os.environ)
    route = _route()
    zone, window_name, refresh = _sidebar(route, settings)
    if not settings.db_url:
        st.error(
            "No store configured: start the dashboard with `runwatch dashboard` "
            "(or set RUNWATCH_DB_URL)."
        )
        return
    url = settings.db_url
    now_of = clock or (lambda: datetime.now(UTC))

    def body() -> None:
        viewer = Viewer(settings, now_of(), zone, WINDOWS[window_name], window_name)
        path = sqlite_path(url)
        if path is not None and not path.exists():
            st.info(f"No runwatch store at {path} yet: it appears once a job has run.")
            return
        try:
            with _engine(url).connect() as conn:
                if _store_ready(conn):
                    _render(route, conn, viewer)
        except SQLAlchemyError as exc:
            st.error(f"Cannot read the store {parse_url(url).redacted}: {_scrubbed(url, exc)}")

    st.fragment(body, run_every=refresh)()


def _route() -> Route:
    return Route.from_params({key: st.query_params.get(key, "") for key in st.query_params})


def _sidebar(route: Route, settings: DashboardSettings) -> tuple[str, str, float | None]:
    with st.sidebar:
        st.title("⏱ runwatch")
        for label, screen in _NAVIGATION:
            current = route.screen is screen
            kind: Literal["primary", "secondary"] = "primary" if current else "secondary"
            if st.button(label, key=f"nav-{screen.value}", type=kind, width="stretch"):
                go(Route(screen))
        st.divider()
        zones = zone_names()
        browser = st.context.timezone
        default = zones.index(browser) if browser in zones else 0
        zone = st.selectbox("Timezone", zones, index=default, key="zone")
        window = st.selectbox("Statistics window", list(WINDOWS), index=1, key="window")
        refresh = st.selectbox("Auto-refresh", list(REFRESH), index=2, key="refresh")
        if st.button("Refresh now", key="refresh-now", width="stretch"):
            st.rerun()
        login_controls(settings)
        if settings.db_url:
            mode = "read-only" if settings.allow is None else "operations for allowed users"
            st.caption(f"Store ({mode}): `{parse_url(settings.db_url).redacted}`")
    return zone, window, REFRESH[refresh]


def _store_ready(conn: Connection) -> bool:
    """Say so, and stop, when the database holds no store or one at another schema."""
    revision = queries.schema_revision(conn)
    if revision is None:
        st.info(
            "No runwatch store here yet: it appears once a job has run (or after "
            "`runwatch db upgrade`)."
        )
        return False
    if revision != HEAD:
        if revision in REVISIONS:
            st.error(
                f"The store is at schema {revision}; this dashboard reads schema {HEAD}: "
                "run `runwatch db upgrade`."
            )
        else:
            st.error(
                f"The store is at schema {revision}, newer than this runwatch (schema "
                f"{HEAD}): upgrade runwatch."
            )
        return False
    return True


def _render(route: Route, conn: Connection, viewer: Viewer) -> None:
    if route.screen is Screen.RUN and route.run_id is not None:
        run_detail.render(conn, viewer, route.run_id)
    elif route.screen is Screen.JOB and route.job is not None:
        job_detail.render(conn, viewer, route.job)
    elif route.screen is Screen.RUNS:
        runs.render(conn, viewer, route.job)
    elif route.screen is Screen.ALERTS:
        alerts.render(conn, viewer)
    elif route.screen is Screen.LINEAGE:
        lineage.render(conn, viewer)
    else:
        overview.render(conn, viewer)


def _scrubbed(url: str, exc: Exception) -> str:
    """The driver's message without the SQL it ran or any password in the URL."""
    message = str(getattr(exc, "orig", None) or exc).splitlines()[0]
    return parse_url(url).scrub(message)


if __name__ == "__main__":
    main()
