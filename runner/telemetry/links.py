"""Links to a run's trace in a tracing UI, from the ``telemetry.trace_url`` template."""

from __future__ import annotations

from runner.errors import DefinitionError

PLACEHOLDER = "{trace_id}"


def check_trace_url(template: str, *, where: str = "runwatch.yaml: telemetry.trace_url") -> None:
    """Raise DefinitionError unless ``template`` is an http(s) URL containing ``{trace_id}``."""
    if not template.startswith(("http://", "https://")):
        raise DefinitionError(f"{where}: {template!r} is not an http:// or https:// URL")
    if PLACEHOLDER not in template:
        raise DefinitionError(f"{where}: {template!r} has no {PLACEHOLDER} placeholder")


def trace_link(template: str | None, trace_id: str | None) -> str | None:
    """The template with ``{trace_id}`` replaced, or None without a template or trace id.

    Only the placeholder is replaced (not ``str.format``): Grafana Explore URLs carry
    JSON, braces included.
    """
    if not template or not trace_id:
        return None
    return template.replace(PLACEHOLDER, trace_id)
