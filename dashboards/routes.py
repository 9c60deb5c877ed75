"""Where the viewer is: the screen and its subject, read from the URL's query parameters.

``?run=42`` is a run's page (Slack messages link to it), ``?job=NAME`` a job's page,
``?page=runs``, ``?page=alerts`` or ``?page=lineage`` a list; no parameter is the overview.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlencode


class Screen(StrEnum):
    """The dashboard's pages."""

    OVERVIEW = "overview"
    RUNS = "runs"
    ALERTS = "alerts"
    LINEAGE = "lineage"
    RUN = "run"
    JOB = "job"


@dataclass(frozen=True)
class Route:
    """A screen and what it is about."""

    screen: Screen
    run_id: int | None = None
    job: str | None = None

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> Route:
        """Read ``?run=``, ``?job=`` and ``?page=``; anything unreadable is the overview."""
        run = params.get("run", "").strip()
        if run:
            return cls(Screen.RUN, run_id=int(run)) if run.isdigit() else cls(Screen.OVERVIEW)
        job = params.get("job", "").strip()
        page = params.get("page", "")
        if job and page != Screen.RUNS.value:
            return cls(Screen.JOB, job=job)
        if page in (Screen.RUNS.value, Screen.ALERTS.value, Screen.LINEAGE.value):
            return cls(Screen(page), job=job or None)
        return cls(Screen.OVERVIEW)

    def params(self) -> dict[str, str]:
        """The query parameters that lead back here."""
        if self.screen is Screen.RUN and self.run_id is not None:
            return {"run": str(self.run_id)}
        if self.screen is Screen.JOB and self.job is not None:
            return {"job": self.job}
        if self.screen in (Screen.RUNS, Screen.ALERTS, Screen.LINEAGE):
            return {"page": self.screen.value, **({"job": self.job} if self.job else {})}
        return {}


def href(route: Route) -> str:
    """A relative link to ``route`` (``?run=42``)."""
    return "?" + urlencode(route.params()) if route.params() else "?"


def run_href(run_id: int) -> str:
    """The link to a run's page."""
    return href(Route(Screen.RUN, run_id=run_id))


def job_href(job: str) -> str:
    """The link to a job's page."""
    return href(Route(Screen.JOB, job=job))
