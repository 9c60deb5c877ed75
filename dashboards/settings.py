"""What ``runwatch dashboard`` hands the app, read once from the environment at startup.

The CLI resolves runwatch.yaml and the ``RUNWATCH_*`` variables, then passes the result
to the Streamlit process in these variables, so the app never parses configuration.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

DB_URL_VARIABLE = "RUNWATCH_DASHBOARD_DB_URL"
TRACE_URL_VARIABLE = "RUNWATCH_DASHBOARD_TRACE_URL"
LOGS_DIR_VARIABLE = "RUNWATCH_DASHBOARD_LOGS_DIR"
"""runwatch's logs folder: the only place the app reads log files from."""
FALLBACK_DB_URL_VARIABLE = "RUNWATCH_DB_URL"


@dataclass(frozen=True)
class DashboardSettings:
    """The store to read, the trace link template and the logs folder."""

    db_url: str | None = field(repr=False)
    trace_url: str | None = None
    logs_dir: str = os.path.expanduser("~/.runwatch/logs")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DashboardSettings:
        """Read the variables the CLI sets (``RUNWATCH_DB_URL`` when run by hand)."""
        return cls(
            db_url=env.get(DB_URL_VARIABLE) or env.get(FALLBACK_DB_URL_VARIABLE) or None,
            trace_url=env.get(TRACE_URL_VARIABLE) or None,
            logs_dir=env.get(LOGS_DIR_VARIABLE) or _default_logs_dir(env),
        )


def _default_logs_dir(env: Mapping[str, str]) -> str:
    """As ``runner.config`` places it when the app is started by hand: under the home."""
    home = env.get("RUNWATCH_HOME") or "~/.runwatch"
    return os.path.join(os.path.abspath(os.path.expanduser(home)), "logs")
