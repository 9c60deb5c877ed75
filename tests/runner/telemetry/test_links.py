"""Trace links from the telemetry.trace_url template."""

from __future__ import annotations

import pytest

from runner.errors import DefinitionError
from runner.telemetry.links import check_trace_url, trace_link

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_trace_link_replaces_only_the_placeholder() -> None:
    assert trace_link("http://jaeger:16686/trace/{trace_id}", TRACE) == (
        f"http://jaeger:16686/trace/{TRACE}"
    )
    grafana = 'https://g/explore?left={"queries":[{"query":"{trace_id}"}]}'
    assert (
        trace_link(grafana, TRACE)
        == f'https://g/explore?left={{"queries":[{{"query":"{TRACE}"}}]}}'
    )


def test_no_link_without_a_template_or_a_trace() -> None:
    assert trace_link(None, TRACE) is None
    assert trace_link("", TRACE) is None
    assert trace_link("http://jaeger/trace/{trace_id}", None) is None


def test_a_template_without_placeholder_or_scheme_is_a_definition_error() -> None:
    check_trace_url("https://tempo/trace/{trace_id}")
    with pytest.raises(DefinitionError, match=r"telemetry\.trace_url: .* has no \{trace_id\}"):
        check_trace_url("https://tempo/trace/")
    with pytest.raises(DefinitionError, match=r"is not an http:// or https:// URL"):
        check_trace_url("tempo/{trace_id}")
