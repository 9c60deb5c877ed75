"""Moving between pages: the URL's query parameters are the dashboard's state."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboards.routes import Route


def go(route: Route) -> None:
    """Show ``route``: set the query parameters and rerun the whole app."""
    st.query_params.clear()
    st.query_params.update(route.params())
    st.rerun(scope="app")


def link_column(label: str, pattern: str, **kwargs: Any) -> Any:
    """A table column of relative links shown by the part ``pattern`` captures."""
    return st.column_config.LinkColumn(label, display_text=pattern, **kwargs)


def selected_row(event: Any) -> int | None:
    """The index of the row the viewer selected in a table, if any."""
    rows = list(getattr(getattr(event, "selection", None), "rows", []) or [])
    return int(rows[0]) if rows else None
