"""What ``runwatch dashboard`` hands the app, read once from the environment at startup.

The CLI resolves runwatch.yaml and the ``RUNWATCH_*`` variables, then passes the result
to the Streamlit process in these variables, so the app never parses configuration.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

logger = logging.getLogger(__name__)

DB_URL_VARIABLE = "RUNWATCH_DASHBOARD_DB_URL"
TRACE_URL_VARIABLE = "RUNWATCH_DASHBOARD_TRACE_URL"
LOGS_DIR_VARIABLE = "RUNWATCH_DASHBOARD_LOGS_DIR"
"""runwatch's logs folder: the only place the app reads log files from."""
DAGS_VARIABLE = "RUNWATCH_DASHBOARD_DAGS"
"""A JSON file ``{job: {task: [upstream task, …]}}`` written by the CLI from the job
definitions: the store records tasks but not their dependencies."""
FALLBACK_DB_URL_VARIABLE = "RUNWATCH_DB_URL"

Dags = Mapping[str, Mapping[str, tuple[str, ...]]]


@dataclass(frozen=True)
class DashboardSettings:
    """The store to read, the trace link template and the jobs' task dependencies."""

    db_url: str | None = field(repr=False)
    trace_url: str | None = None
    dags: Dags = field(default_factory=dict)
    logs_dir: str = os.path.expanduser("~/.runwatch/logs")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> DashboardSettings:
        """Read the variables the CLI sets (``RUNWATCH_DB_URL`` when run by hand)."""
        dags_path = env.get(DAGS_VARIABLE)
        return cls(
            db_url=env.get(DB_URL_VARIABLE) or env.get(FALLBACK_DB_URL_VARIABLE) or None,
            trace_url=env.get(TRACE_URL_VARIABLE) or None,
            dags=read_dags(Path(dags_path)) if dags_path else {},
            logs_dir=env.get(LOGS_DIR_VARIABLE) or _default_logs_dir(env),
        )


def _default_logs_dir(env: Mapping[str, str]) -> str:
    """As ``runner.config`` places it when the app is started by hand: under the home."""
    home = env.get("RUNWATCH_HOME") or "~/.runwatch"
    return os.path.join(os.path.abspath(os.path.expanduser(home)), "logs")


def read_dags(path: Path) -> Dags:
    """The task dependencies in ``path``; empty (drawn without edges) when unreadable."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        logger.warning("task dependencies not read from %s: %s", path, exc)
        return {}
    if not isinstance(data, dict):
        logger.warning("task dependencies in %s: expected a mapping of jobs", path)
        return {}
    return {
        str(job): {str(t): tuple(str(u) for u in ups) for t, ups in tasks.items()}
        for job, tasks in data.items()
        if isinstance(tasks, dict)
    }


def write_dags(path: Path, dags: Mapping[str, Mapping[str, tuple[str, ...] | list[str]]]) -> None:
    """Write task dependencies for the app to read (used by the CLI)."""
    plain = {job: {t: list(ups) for t, ups in tasks.items()} for job, tasks in dags.items()}
    path.write_text(json.dumps(plain, sort_keys=True), encoding="utf-8")
