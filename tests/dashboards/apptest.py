"""The dashboard app run by Streamlit's AppTest at a fixed time, with query parameters."""

from __future__ import annotations

from datetime import datetime

from streamlit.testing.v1 import AppTest

TIMEOUT = 30


def _app(now: str) -> None:
    from datetime import datetime

    from dashboards.app import main

    main(clock=lambda: datetime.fromisoformat(now))


def app_test(now: datetime) -> AppTest:
    """The app at ``now``, not run yet."""
    return AppTest.from_function(_app, kwargs={"now": now.isoformat()}, default_timeout=TIMEOUT)


def run_app(now: datetime, **params: str) -> AppTest:
    """Run the app once at ``now`` with ``?key=value`` parameters; fail on an exception."""
    at = app_test(now)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at
