"""The cached exposition says exactly what prometheus_client would, in both formats."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as parse_openmetrics,
)
from prometheus_client.parser import text_string_to_metric_families as parse_text

from runner.telemetry import exposition
from runner.telemetry.exposition import FamiliesCollector
from runner.telemetry.families import (
    BLOCK_SIZE,
    CounterFamily,
    GaugeFamily,
    HistogramFamily,
    InfoFamily,
    TraceExemplar,
    number,
)
from runner.telemetry.metrics import MetricsCollector

TRACE = "0af7651916cd43dd8448eb211c80319c"


def exposed(registry: CollectorRegistry, *, openmetrics: bool) -> str:
    return b"".join(exposition.render(registry, openmetrics=openmetrics)).decode()


def samples(text: str) -> set[tuple[str, tuple[tuple[str, str], ...], float]]:
    return {
        (s.name, tuple(sorted(s.labels.items())), s.value)
        for family in parse_text(text)
        for s in family.samples
    }


def filled(registry: CollectorRegistry) -> MetricsCollector:
    collector = MetricsCollector(registry, version="9.9.9")
    collector.job_runs.inc("etl", "success", amount=3)
    collector.task_attempts.inc("etl", 'say "hi"\\\n', "failed")
    collector.task_duration.observe(
        "etl", "load", value=0.2, exemplar=TraceExemplar(TRACE, 0.2, 1.5)
    )
    collector.task_duration.observe("etl", "load", value=7200)
    collector.last_success.set("etl", value=1_700_000_000.25)
    collector.scheduler_heartbeat.set(value=1e9)
    return collector


def test_cached_text_exposition_has_the_samples_prometheus_client_would_write(
    registry: CollectorRegistry,
) -> None:
    filled(registry)
    ours = exposed(registry, openmetrics=False)
    theirs = generate_latest(registry).decode()
    assert samples(ours) == samples(theirs)
    assert (
        "runwatch_task_attempts_total",
        (("job", "etl"), ("status", "failed"), ("task", 'say "hi"\\\n')),
        1.0,
    ) in samples(ours)


def test_openmetrics_exposition_parses_and_carries_trace_exemplars(
    registry: CollectorRegistry,
) -> None:
    filled(registry)
    text = exposed(registry, openmetrics=True)
    families = {f.name: f for f in parse_openmetrics(text)}
    buckets = [s for s in families["runwatch_task_duration_seconds"].samples if s.exemplar]
    assert text.endswith("# EOF\n")
    assert families["runwatch_build"].type == "info"
    assert families["runwatch_job_runs"].type == "counter"
    [bucket] = buckets
    assert bucket.labels["le"] == "0.5"
    assert bucket.exemplar is not None
    assert bucket.exemplar.labels == {"trace_id": TRACE}
    assert bucket.exemplar.value == 0.2


def test_a_changed_series_is_rendered_afresh_and_the_others_from_cache(
    registry: CollectorRegistry,
) -> None:
    collector = filled(registry)
    unchanged = collector.task_duration.render(False)[1:]  # its blocks (after the header)
    collector.job_runs.inc("etl", "success")
    after = samples(exposed(registry, openmetrics=False))
    assert ("runwatch_job_runs_total", (("job", "etl"), ("status", "success")), 4.0) in after
    again = collector.task_duration.render(False)[1:]
    assert all(a is b for a, b in zip(again, unchanged, strict=True))


def test_a_change_re_renders_only_the_block_of_series_it_is_in() -> None:
    family = CounterFamily("c", "C.", ("job",))
    for i in range(3 * BLOCK_SIZE):
        family.inc(f"job{i}")
    before = family.render(False)
    family.inc(f"job{BLOCK_SIZE + 1}")
    after = family.render(False)
    assert len(after) == 4  # the header and three blocks
    assert [a is b for a, b in zip(before, after, strict=True)] == [False, True, False, True]
    assert f'c_total{{job="job{BLOCK_SIZE + 1}"}} 2.0'.encode() in after[2]
    family.remove("job0")
    assert b'job="job0"' not in b"".join(family.render(False))
    assert b"".join(family.render(False)).count(b"\n") == 2 + 3 * BLOCK_SIZE - 1


def test_other_collectors_in_the_registry_are_exposed_too(registry: CollectorRegistry) -> None:
    filled(registry)
    Counter("other_things", "Things.", registry=registry).inc()
    for openmetrics in (False, True):
        text = exposed(registry, openmetrics=openmetrics)
        assert "other_things_total 1.0" in text
    assert exposed(registry, openmetrics=True).count("# EOF") == 1


def test_families_answer_get_sample_value(registry: CollectorRegistry) -> None:
    filled(registry)
    labels = {"job": "etl", "task": "load", "le": "+Inf"}
    assert registry.get_sample_value("runwatch_task_duration_seconds_bucket", labels) == 2
    assert (
        registry.get_sample_value(
            "runwatch_task_duration_seconds_sum", {"job": "etl", "task": "load"}
        )
        == 7200.2
    )
    assert registry.get_sample_value("runwatch_build_info", {"version": "9.9.9"}) == 1


def test_info_family_replaces_its_series_and_gauges_drop_removed_ones() -> None:
    import threading

    info = InfoFamily("runwatch_job", "Jobs.", ("job",))
    gauge = GaugeFamily("g", "G.", ("job",))
    counter = CounterFamily("c", "C.", ("job",))
    histogram = HistogramFamily("h", "H.", ("job",), buckets=(1.0,))
    registry = CollectorRegistry()
    registry.register(FamiliesCollector([info, gauge, counter, histogram], threading.Lock()))
    info.replace([("a",), ("b",)])
    info.replace([("b",)])
    gauge.set("x", value=2)
    gauge.remove("x")
    counter.ensure("y")
    histogram.observe("z", value=1.0)
    text = exposed(registry, openmetrics=False)
    assert samples(text) == {
        ("runwatch_job_info", (("job", "b"),), 1.0),
        ("c_total", (("job", "y"),), 0.0),
        ("h_bucket", (("job", "z"), ("le", "1.0")), 1.0),
        ("h_bucket", (("job", "z"), ("le", "+Inf")), 1.0),
        ("h_count", (("job", "z"),), 1.0),
        ("h_sum", (("job", "z"),), 1.0),
    }


def test_numbers_are_written_as_prometheus_writes_them() -> None:
    assert [number(v) for v in (1, 0.25, 1e9, float("inf"), float("nan"))] == [
        "1.0",
        "0.25",
        "1e+09",
        "+Inf",
        "NaN",
    ]


def test_an_exemplar_over_the_openmetrics_label_limit_is_left_out() -> None:
    histogram = HistogramFamily("h", "H.", ("job",), buckets=(1.0,))
    longest = "a" * (128 - len("trace_id"))
    histogram.observe("j", value=0.5, exemplar=TraceExemplar(longest, 0.5))
    histogram.observe("j", value=2.0, exemplar=TraceExemplar(longest + "a", 2.0))
    kept = [s.exemplar for s in histogram.samples() if s.exemplar is not None]
    assert [e.labels["trace_id"] for e in kept] == [longest]
