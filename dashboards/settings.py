"""What ``runwatch dashboard`` hands the app, read once from the environment at startup.

The CLI resolves runwatch.yaml and the ``RUNWATCH_*`` variables, then passes the result
to the Streamlit process in these variables, so the app never parses configuration.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from runner.dashboard_access import Allowlist

logger = logging.getLogger(__name__)

DB_URL_VARIABLE = "RUNWATCH_DASHBOARD_DB_URL"
TRACE_URL_VARIABLE = "RUNWATCH_DASHBOARD_TRACE_URL"
LOGS_DIR_VARIABLE = "RUNWATCH_DASHBOARD_LOGS_DIR"
"""runwatch's logs folder: the only place the app reads log files from."""
FALLBACK_DB_URL_VARIABLE = "RUNWATCH_DB_URL"
LOGIN_VARIABLE = "RUNWATCH_DASHBOARD_LOGIN"
"""Set (to the ID token's groups claim) when ``dashboard.auth`` configures the login."""
ACTIONS_VARIABLE = "RUNWATCH_DASHBOARD_ACTIONS"
"""Set (to the allow-list's JSON) when ``dashboard.actions`` is true."""
CONFIG_VARIABLE = "RUNWATCH_DASHBOARD_CONFIG"
"""The runwatch.yaml the commands the app runs for an action read."""


@dataclass(frozen=True)
class DashboardSettings:
    """The store to read, the trace link template, the logs folder and, when operations
    are on, the login's groups claim, the allow-list and the settings file."""

    db_url: str | None = field(repr=False)
    trace_url: str | None = None
    logs_dir: str = os.path.expanduser("~/.runwatch/logs")
    groups_claim: str | None = None
    """None: no login configured."""
    allow: Allowlist | None = None
    """None: read-only, no operation is offered."""
    config_path: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DashboardSettings:
        """Read the variables the CLI sets (``RUNWATCH_DB_URL`` when run by hand)."""
        return cls(
            db_url=env.get(DB_URL_VARIABLE) or env.get(FALLBACK_DB_URL_VARIABLE) or None,
            trace_url=env.get(TRACE_URL_VARIABLE) or None,
            logs_dir=env.get(LOGS_DIR_VARIABLE) or _default_logs_dir(env),
            groups_claim=env.get(LOGIN_VARIABLE) or None,
            allow=Allowlist.from_json(env[ACTIONS_VARIABLE]) if env.get(ACTIONS_VARIABLE) else None,
            config_path=env.get(CONFIG_VARIABLE) or None,
        )


def _default_logs_dir(env: Mapping[str, str]) -> str:
    """As ``runner.config`` places it when the app is started by hand: under the home."""
    home = env.get("RUNWATCH_HOME") or "~/.runwatch"
    return os.path.join(os.path.abspath(os.path.expanduser(home)), "logs")
