"""Metric families that keep each series' exposition text, so a scrape costs a join.

prometheus_client formats every sample on every scrape (~10 µs a line): with 1,000 jobs
of 10 tasks the task histograms alone are ~200,000 lines, seconds per scrape. These
families cache each series' rendered lines and re-render only the series that changed
since the last scrape. ``exposition.FamiliesCollector`` puts them in a prometheus_client
``CollectorRegistry``, where ``get_sample_value`` reads them and ``push_to_gateway``
sends them.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from prometheus_client.samples import Exemplar, Sample

Labels = tuple[str, ...]
BLOCK_SIZE = 256
"""Series per block of cached text: a change re-joins one block, not the whole family."""


def number(value: float) -> str:
    """A sample value as Prometheus writes it (Go's formatting: ``+Inf``, ``1e+06``)."""
    value = float(value)
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    text = repr(value)
    dot = text.find(".")
    if value > 0 and dot > 6:  # Go switches to an exponent sooner than Python
        mantissa = f"{text[0]}.{text[1:dot]}{text[dot + 1 :]}".rstrip("0.")
        return f"{mantissa}e+{dot - 1:02d}"
    return text


def _escape(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def label_text(names: Sequence[str], values: Sequence[str]) -> str:
    """``job="a",task="b"`` — escaped, in the family's label order."""
    return ",".join(f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True))


def _braced(inner: str) -> str:
    return f"{{{inner}}}" if inner else ""


class Family:
    """A metric family: its series by label values, each with cached exposition text."""

    kind: ClassVar[str] = "untyped"

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = tuple(labelnames)
        # Per format (False: text, True: OpenMetrics): each series' encoded lines, and the
        # series grouped in blocks whose joined text is kept until one of them changes.
        self._lines: dict[bool, dict[Labels, bytes]] = {False: {}, True: {}}
        self._block_of: dict[Labels, int] = {}
        self._blocks: list[list[Labels]] = []
        self._joined: dict[bool, list[bytes | None]] = {False: [], True: []}

    # -- rendering ------------------------------------------------------------------

    def sample_name(self) -> str:
        """The name of the family's samples (a counter's end in ``_total``)."""
        return self.name

    def header(self, openmetrics: bool) -> str:
        """The ``# HELP`` and ``# TYPE`` lines."""
        name, kind = self.name, self.kind
        if not openmetrics and kind == "counter":
            name += "_total"
        help_text = self.documentation.replace("\\", r"\\").replace("\n", r"\n")
        return f"# HELP {name} {help_text}\n# TYPE {name} {kind}\n"

    def render(self, openmetrics: bool) -> list[bytes]:
        """The family in the text (0.0.4) or OpenMetrics format, ``# EOF`` excluded, as
        chunks to write one after the other."""
        chunks = [self.header(openmetrics).encode()]
        joined = self._joined[openmetrics]
        lines = self._lines[openmetrics]
        for index, members in enumerate(self._blocks):
            block = joined[index]
            if block is None:
                parts = []
                for labels in members:
                    text = lines.get(labels)
                    if text is None:
                        text = lines[labels] = self._render_series(labels, openmetrics).encode()
                    parts.append(text)
                block = joined[index] = b"".join(parts)
            chunks.append(block)
        return chunks

    def changed(self, labels: Labels) -> None:
        """Forget a series' cached text after its value changed (or it was added)."""
        for openmetrics in (False, True):
            self._lines[openmetrics].pop(labels, None)
        index = self._block_of.get(labels)
        if index is None:
            index = self._place(labels)
        for openmetrics in (False, True):
            self._joined[openmetrics][index] = None

    def forgot(self, labels: Labels) -> None:
        """A series was removed: regroup the rest."""
        for openmetrics in (False, True):
            self._lines[openmetrics].pop(labels, None)
        self._regroup()

    def clear(self) -> None:
        """Drop every series."""
        for openmetrics in (False, True):
            self._lines[openmetrics].clear()
        self._regroup()

    def _place(self, labels: Labels) -> int:
        if not self._blocks or len(self._blocks[-1]) >= BLOCK_SIZE:
            self._blocks.append([])
            for openmetrics in (False, True):
                self._joined[openmetrics].append(None)
        index = len(self._blocks) - 1
        self._blocks[index].append(labels)
        self._block_of[labels] = index
        return index

    def _regroup(self) -> None:
        self._block_of = {}
        self._blocks = []
        self._joined = {False: [], True: []}
        for labels in self.series():
            self._place(labels)

    def series(self) -> Iterable[Labels]:
        """The label values of every series."""
        raise NotImplementedError

    def _render_series(self, labels: Labels, openmetrics: bool) -> str:
        raise NotImplementedError

    def samples(self) -> list[Sample]:
        """Every sample, as prometheus_client represents them."""
        raise NotImplementedError

    def _labels(self, values: Labels) -> dict[str, str]:
        return dict(zip(self.labelnames, values, strict=True))


class ValueFamily(Family):
    """A family of one number per series: counters and gauges."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str] = ()) -> None:
        super().__init__(name, documentation, labelnames)
        self._values: dict[Labels, float] = {}

    def series(self) -> Iterable[Labels]:
        """The label values of every series."""
        return self._values.keys()

    def get(self, *labels: str) -> float | None:
        """A series' value, None when it does not exist."""
        return self._values.get(labels)

    def remove(self, *labels: str) -> None:
        """Drop one series."""
        if self._values.pop(labels, None) is not None:
            self.forgot(labels)

    def clear(self) -> None:
        """Drop every series."""
        self._values.clear()
        super().clear()

    def _put(self, labels: Labels, value: float) -> None:
        if self._values.get(labels) != value:
            self._values[labels] = value
            self.changed(labels)

    def _render_series(self, labels: Labels, openmetrics: bool) -> str:
        inner = label_text(self.labelnames, labels)
        return f"{self.sample_name()}{_braced(inner)} {number(self._values[labels])}\n"

    def samples(self) -> list[Sample]:
        """Every sample, as prometheus_client represents them."""
        name = self.sample_name()
        return [Sample(name, self._labels(k), v, None, None) for k, v in self._values.items()]


class CounterFamily(ValueFamily):
    """Monotonic counts; samples are named ``<name>_total``."""

    kind: ClassVar[str] = "counter"

    def sample_name(self) -> str:
        """``<name>_total``."""
        return self.name + "_total"

    def inc(self, *labels: str, amount: float = 1.0) -> None:
        """Add ``amount`` to the series (created at 0)."""
        self._put(labels, self._values.get(labels, 0.0) + amount)

    def ensure(self, *labels: str) -> None:
        """Create the series at 0 if it does not exist, so ``rate()`` sees it from the start."""
        if labels not in self._values:
            self._put(labels, 0.0)


class GaugeFamily(ValueFamily):
    """Values that go up and down."""

    kind: ClassVar[str] = "gauge"

    def set(self, *labels: str, value: float) -> None:
        """Set the series' value."""
        self._put(labels, float(value))


class InfoFamily(ValueFamily):
    """Facts as labels on a series of value 1: ``<name>_info{…} 1`` (a gauge in the text
    format, the ``info`` type in OpenMetrics)."""

    kind: ClassVar[str] = "info"

    def sample_name(self) -> str:
        """``<name>_info``."""
        return self.name + "_info"

    def header(self, openmetrics: bool) -> str:
        """An ``info`` family in OpenMetrics, a gauge named ``<name>_info`` in text."""
        if openmetrics:
            return super().header(True)
        help_text = self.documentation.replace("\\", r"\\").replace("\n", r"\n")
        name = self.sample_name()
        return f"# HELP {name} {help_text}\n# TYPE {name} gauge\n"

    def replace(self, rows: Iterable[Labels]) -> None:
        """Make these, and only these, the series."""
        wanted = set(rows)
        for labels in [k for k in self._values if k not in wanted]:
            self.remove(*labels)
        for labels in wanted:
            self._put(labels, 1.0)


EXEMPLAR_LABELS_MAX_CHARACTERS = 128
"""OpenMetrics: an exemplar's label names and values together, in UTF-8 characters."""


@dataclass(frozen=True)
class TraceExemplar:
    """A trace id attached to one observation."""

    trace_id: str
    value: float
    timestamp: float | None = None

    @property
    def fits(self) -> bool:
        """True when its label set is within OpenMetrics' limit for exemplars."""
        return len("trace_id") + len(self.trace_id) <= EXEMPLAR_LABELS_MAX_CHARACTERS


class _HistogramSeries:
    __slots__ = ("buckets", "count", "exemplars", "sum")

    def __init__(self, size: int) -> None:
        self.buckets = [0] * size
        self.exemplars: list[TraceExemplar | None] = [None] * size
        self.count = 0
        self.sum = 0.0


class HistogramFamily(Family):
    """Observations counted in cumulative ``le`` buckets, with a trace exemplar per bucket."""

    kind: ClassVar[str] = "histogram"

    def __init__(
        self,
        name: str,
        documentation: str,
        labelnames: Sequence[str] = (),
        *,
        buckets: Sequence[float],
    ) -> None:
        super().__init__(name, documentation, labelnames)
        bounds = sorted(float(b) for b in buckets)
        if bounds[-1] != float("inf"):
            bounds.append(float("inf"))
        self.bounds = tuple(bounds)
        self._le = tuple(number(b) for b in self.bounds)
        self._series: dict[Labels, _HistogramSeries] = {}

    def series(self) -> Iterable[Labels]:
        """The label values of every series."""
        return self._series.keys()

    def clear(self) -> None:
        """Drop every series."""
        self._series.clear()
        super().clear()

    def observe(self, *labels: str, value: float, exemplar: TraceExemplar | None = None) -> None:
        """Count one observation (and keep ``exemplar`` as its bucket's latest)."""
        series = self._series.get(labels)
        if series is None:
            series = self._series[labels] = _HistogramSeries(len(self.bounds))
        index = bisect.bisect_left(self.bounds, value)
        series.buckets[index] += 1
        series.count += 1
        series.sum += value
        if exemplar is not None and exemplar.fits:
            series.exemplars[index] = exemplar
        self.changed(labels)

    def count(self, *labels: str) -> int:
        """Observations in a series (0 when it does not exist)."""
        series = self._series.get(labels)
        return 0 if series is None else series.count

    def _render_series(self, labels: Labels, openmetrics: bool) -> str:
        series = self._series[labels]
        inner = label_text(self.labelnames, labels)
        prefix = inner + "," if inner else ""
        lines = []
        cumulative = 0
        for le, count, exemplar in zip(self._le, series.buckets, series.exemplars, strict=True):
            cumulative += count
            line = f'{self.name}_bucket{{{prefix}le="{le}"}} {number(cumulative)}'
            if openmetrics and exemplar is not None:
                line += _exemplar_text(exemplar)
            lines.append(line + "\n")
        braced = _braced(inner)
        lines.append(f"{self.name}_count{braced} {number(series.count)}\n")
        lines.append(f"{self.name}_sum{braced} {number(series.sum)}\n")
        return "".join(lines)

    def samples(self) -> list[Sample]:
        """Every sample, as prometheus_client represents them (exemplars included)."""
        out: list[Sample] = []
        for labels, series in self._series.items():
            base = self._labels(labels)
            cumulative = 0
            for le, count, exemplar in zip(self._le, series.buckets, series.exemplars, strict=True):
                cumulative += count
                extra = None
                if exemplar is not None:
                    extra = Exemplar(
                        {"trace_id": exemplar.trace_id}, exemplar.value, exemplar.timestamp
                    )
                out.append(
                    Sample(f"{self.name}_bucket", {**base, "le": le}, cumulative, None, extra)
                )
            out.append(Sample(f"{self.name}_count", base, series.count, None, None))
            out.append(Sample(f"{self.name}_sum", base, series.sum, None, None))
        return out


def _exemplar_text(exemplar: TraceExemplar) -> str:
    text = f' # {{trace_id="{_escape(exemplar.trace_id)}"}} {number(exemplar.value)}'
    if exemplar.timestamp is not None:
        text += f" {exemplar.timestamp:.3f}"
    return text
