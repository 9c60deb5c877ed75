"""Query parameters in, pages out, and links back."""

from __future__ import annotations

import pytest

from dashboards.routes import Route, Screen, href, job_href, run_href


@pytest.mark.parametrize(
    ("params", "route"),
    [
        ({}, Route(Screen.OVERVIEW)),
        ({"run": "42"}, Route(Screen.RUN, run_id=42)),
        ({"run": "42", "page": "alerts"}, Route(Screen.RUN, run_id=42)),
        ({"run": "x"}, Route(Screen.OVERVIEW)),
        ({"job": "nightly etl"}, Route(Screen.JOB, job="nightly etl")),
        ({"page": "runs"}, Route(Screen.RUNS)),
        ({"page": "runs", "job": "etl"}, Route(Screen.RUNS, job="etl")),
        ({"page": "alerts"}, Route(Screen.ALERTS)),
        ({"page": "nope"}, Route(Screen.OVERVIEW)),
    ],
)
def test_query_parameters_choose_the_page(params: dict[str, str], route: Route) -> None:
    assert Route.from_params(params) == route


def test_links_lead_back_to_the_same_page() -> None:
    assert run_href(42) == "?run=42"
    assert job_href("nightly etl") == "?job=nightly+etl"
    assert href(Route(Screen.RUNS, job="etl")) == "?page=runs&job=etl"
    assert href(Route(Screen.OVERVIEW)) == "?"
    for route in (Route(Screen.RUN, run_id=7), Route(Screen.JOB, job="a/b"), Route(Screen.ALERTS)):
        assert Route.from_params(route.params()) == route
