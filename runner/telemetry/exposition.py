"""A registry in the Prometheus text format or in OpenMetrics (which carries exemplars).

Families built on ``families.Family`` are rendered from their cached text; any other
collector in the registry (a process collector, say) is formatted by prometheus_client.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.exposition import generate_latest as generate_text
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.registry import Collector

from runner.telemetry.families import FamilyMetric

TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
OPENMETRICS_CONTENT_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"
_EOF = "# EOF\n"


def wants_openmetrics(accept: str | None) -> bool:
    """True when an Accept header asks for OpenMetrics (as Prometheus does by default)."""
    for media_range in (accept or "").split(","):
        media_type, *params = (part.strip() for part in media_range.split(";"))
        if media_type.lower() != "application/openmetrics-text":
            continue
        quality = next((p.split("=", 1)[1] for p in params if p.startswith("q=")), "1")
        try:
            if float(quality) > 0:
                return True
        except ValueError:
            continue
    return False


def content_type(openmetrics: bool) -> str:
    """The Content-Type of a scrape in that format."""
    return OPENMETRICS_CONTENT_TYPE if openmetrics else TEXT_CONTENT_TYPE


def render(registry: Collector, *, openmetrics: bool) -> list[bytes]:
    """Everything the registry collects, in one exposition, as chunks to write in turn
    (joining them would copy megabytes for nothing)."""
    chunks: list[bytes] = []
    for metric in registry.collect():
        if isinstance(metric, FamilyMetric):
            chunks.extend(metric.render(openmetrics))
        else:
            chunks.append(_format(metric, openmetrics).encode())
    if openmetrics:
        chunks.append(_EOF.encode())
    return chunks


class _One:
    """A collector of one metric, to reuse prometheus_client's formatting for it."""

    def __init__(self, metric: Metric) -> None:
        self._metric = metric

    def collect(self) -> Iterator[Metric]:
        yield self._metric


def _format(metric: Metric, openmetrics: bool) -> str:
    if not openmetrics:
        return generate_text(_One(metric)).decode("utf-8")
    text: bytes = generate_openmetrics(_One(metric))  # type: ignore[no-untyped-call]
    return text.decode("utf-8").removesuffix(_EOF)
