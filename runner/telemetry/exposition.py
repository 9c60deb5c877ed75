"""Families in a prometheus_client registry, and a registry in the Prometheus text format
or in OpenMetrics (which carries exemplars).

Families built on ``families.Family`` are rendered from their cached text; any other
collector in the registry (a process collector, say) is formatted by prometheus_client.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

from prometheus_client.exposition import generate_latest as generate_text
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from runner.telemetry.families import Family

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


class FamilyMetric(Metric):
    """A family as prometheus_client's ``Metric``; samples are built only when read, and
    ``render`` gives the cached exposition text."""

    def __init__(self, family: Family, lock: threading.Lock) -> None:
        self._family = family
        self._lock = lock
        self._built: list[Sample] | None = None
        super().__init__(family.name, family.documentation, family.kind)

    @property
    def samples(self) -> list[Sample]:
        """Every sample, built on first access."""
        if self._built is None:
            with self._lock:
                self._built = self._family.samples()
        return self._built

    @samples.setter
    def samples(self, value: list[Sample]) -> None:
        self._built = value or None  # Metric.__init__ assigns []: keep building lazily

    def render(self, openmetrics: bool) -> list[bytes]:
        """The family's exposition text, as chunks."""
        with self._lock:
            return self._family.render(openmetrics)


class FamiliesCollector:
    """A prometheus_client collector over families, guarded by one lock shared with writers."""

    def __init__(self, families: Sequence[Family], lock: threading.Lock) -> None:
        self._families = tuple(families)
        self._lock = lock

    def describe(self) -> Iterator[Metric]:
        """The families without samples: lets the registry check names without collecting."""
        for family in self._families:
            yield Metric(family.name, family.documentation, family.kind)

    def collect(self) -> Iterator[Metric]:
        """One ``FamilyMetric`` per family."""
        for family in self._families:
            yield FamilyMetric(family, self._lock)
