"""Who is logged in: Streamlit's ``st.user`` (the ID token's claims) as an Operator."""

from __future__ import annotations

import streamlit as st

from dashboards.settings import DashboardSettings
from runner.dashboard_access import Operator, operator_from_claims


def current_operator(settings: DashboardSettings) -> Operator | None:
    """The logged-in user; None without a configured login or when nobody is logged in."""
    if settings.groups_claim is None:
        return None
    return operator_from_claims(st.user.to_dict(), settings.groups_claim)


def login_controls(settings: DashboardSettings) -> None:
    """The sidebar's "Log in" button, or who is logged in and "Log out"."""
    if settings.groups_claim is None:
        return
    operator = current_operator(settings)
    if operator is None:
        if st.button("Log in", key="login", width="stretch"):
            st.login()
        return
    st.caption(f"Logged in as **{operator.name}**")
    if st.button("Log out", key="logout", width="stretch"):
        st.logout()
