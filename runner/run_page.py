"""The dashboard's public base URL (``dashboard.url``) and the address of a run's page.

Notifications (alerting) and ``runwatch show`` link to ``{dashboard.url}/?run=ID``, the
query dashboards/routes.py reads.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def url_problem(text: str, *, template: bool = False) -> str | None:
    """What is wrong with ``text`` as an http(s) base URL, or None when nothing is.

    A ``template`` (a runbook with ``{job}``) may carry a query or a fragment.
    """
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return "expected an http:// or https:// URL with a host"
    if not template and (parts.query or parts.fragment):
        return "expected a base URL without ?query or #fragment"
    return None


def run_page_url(dashboard_url: str | None, run_id: object) -> str | None:
    """The dashboard page of a run, or None without a base URL or a run id."""
    if not dashboard_url or run_id in (None, ""):
        return None
    return f"{dashboard_url.rstrip('/')}/?run={run_id}"
