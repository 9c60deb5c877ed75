"""Benchmarks of telemetry (issue 4: observability).

    python bench/telemetry_bench.py [overhead|scrape ...]

overhead: the 1 -> 200 -> 1 fan-out/fan-in job of no-op Python tasks (runner_bench B1),
    end to end, with telemetry off, then on: spans through a BatchSpanProcessor to an
    exporter that drops them (no network); then also a metrics consumer on its own
    connection in a thread of the same process, as in ``serve``, scraping every 0.1 s
    during the run (Prometheus scrapes every 15-60 s: a stress case). Rounds run every
    variant back to back; reported: the median wall time and the median of the
    per-round ratios to "off" (robust to load from other processes), and what the
    scrape after the run took to catch up. Target: <= 15% more wall time.
scrape: GET /metrics over loopback with 1,000 jobs x 10 tasks of history. Two cases:
    a freshly started ``serve`` (gauges rebuilt from the store, counters starting again)
    and one that has consumed every run (all 10,000 task series present, the worst
    case); each in the text format and in OpenMetrics, after one new run per scrape
    so a changed series is always re-rendered. Also: the same with three times the
    history, to show the scrape does not grow with it. Target: median <= 50 ms.

Recorded figures: bench/README.md, from bench/run.py.
"""

from __future__ import annotations

import itertools
import queue
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from prometheus_client import CollectorRegistry
from runner_bench import fan_job, noop  # the sibling benchmark: run this file as a script

from runner.clock import utcnow
from runner.engine.engine import Engine
from runner.engine.executor import Message
from runner.engine.observer import RunObserver
from runner.executors.local.executor import LocalExecutor
from runner.model import Job, RunState, Task, TaskState, Trigger
from runner.server.http_api import telemetry_server
from runner.store.store import Store
from runner.telemetry.config import TracingSettings
from runner.telemetry.consumer import MetricsConsumer
from runner.telemetry.health import HeartbeatHealth
from runner.telemetry.metrics import MetricsCollector
from runner.telemetry.provider import build_pipeline
from runner.telemetry.tracing import TracingObserver

REPEATS = 21
WORKERS = 2
SCRAPES = 15


class DroppingExporter(SpanExporter):
    """Takes every batch and drops it: the SDK's whole cost, no network."""

    def __init__(self) -> None:
        self.spans = 0

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans += len(spans)
        return SpanExportResult.SUCCESS


@dataclass(frozen=True)
class Variant:
    """What is on: spans, and a metrics consumer scraping every ``scrape_seconds``."""

    label: str
    tracing: bool = False
    scrape_seconds: float | None = None


VARIANTS = (
    Variant("off"),
    Variant("spans", tracing=True),
    Variant("spans + metrics scraped every 0.1 s", tracing=True, scrape_seconds=0.1),
)


@dataclass(frozen=True)
class Timing:
    """One run: its wall time, and what the scrape after it took to catch up."""

    run_seconds: float
    catch_up_seconds: float = 0.0


def run_once(job: Job, variant: Variant) -> Timing:
    """One run of ``job`` in a fresh store with a warm worker pool."""
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        store = Store.open(url)
        observer: RunObserver | None = None
        exporter = DroppingExporter()
        if variant.tracing:
            observer = TracingObserver(build_pipeline(TracingSettings(), [exporter]))
        messages: queue.SimpleQueue[Message] = queue.SimpleQueue()
        engine = Engine(store, LocalExecutor(messages, python_workers=WORKERS), messages,
                        log_dir=Path(tmp) / "logs", workers=WORKERS, observer=observer)  # fmt: skip
        now = utcnow()
        store.sync_jobs([job], now)
        warm = Job(name="warm", tasks={f"w{i}": Task(f"w{i}", python=noop) for i in range(WORKERS)})
        warm_run = store.create_run(warm, now, Trigger.MANUAL, now)
        run = store.create_run(job, now, Trigger.MANUAL, now)
        assert warm_run is not None
        assert run is not None
        engine.execute(warm, warm_run)
        reader = Store.open(url, migrate=False, recover=False)
        consumer = MetricsConsumer(reader, MetricsCollector(CollectorRegistry()))
        consumer.start()
        stop = threading.Event()
        interval = variant.scrape_seconds

        def scrape_periodically() -> None:
            while interval is not None and not stop.wait(interval):
                consumer.exposition(True)

        scraper = threading.Thread(target=scrape_periodically)
        scraper.start()
        started = time.perf_counter()
        final = engine.execute(job, run)
        elapsed = time.perf_counter() - started
        stop.set()
        scraper.join()
        catch_up = 0.0
        if interval is not None:
            started = time.perf_counter()
            consumer.exposition(True)  # the next scrape: the rest of the run's events
            catch_up = time.perf_counter() - started
            assert consumer.collector.job_runs.get(job.name, "success") == 1
        assert final.state is RunState.SUCCESS, final
        engine.close()
        if variant.tracing:
            assert exporter.spans == 203 + 1 + WORKERS, exporter.spans  # with the warm-up run
        reader.close()
        store.close()
    return Timing(elapsed, catch_up)


def overhead_percent(variant: Variant, rounds: int = 3) -> float:
    """One sample: the 200-task job's wall time with ``variant`` on, as a percentage more
    than with telemetry off: the median of ``rounds`` per-round ratios, each round running
    the two back to back."""
    job = fan_job(200)
    ratios = []
    for _ in range(rounds):
        off = run_once(job, VARIANTS[0]).run_seconds
        ratios.append(run_once(job, variant).run_seconds / off)
    return (statistics.median(ratios) - 1) * 100


def overhead() -> None:
    """Wall time of the 200-task job with telemetry off and on, runs interleaved."""
    job = fan_job(200)
    timings: dict[Variant, list[Timing]] = {v: [] for v in VARIANTS}
    for _ in range(REPEATS):
        for variant in VARIANTS:
            timings[variant].append(run_once(job, variant))
    off = [t.run_seconds for t in timings[VARIANTS[0]]]
    for variant in VARIANTS:
        runs = [t.run_seconds for t in timings[variant]]
        # Each round runs every variant back to back: the ratio within a round cancels
        # the load other processes put on the machine meanwhile.
        ratio = statistics.median(r / o for r, o in zip(runs, off, strict=True))
        catch_up = statistics.median(t.catch_up_seconds for t in timings[variant]) * 1000
        print(f"overhead [{variant.label}]: median {statistics.median(runs) * 1000:.0f} ms, "
              f"median ratio to off {(ratio - 1) * 100:+.1f}%"
              + (f"; next scrape caught up in {catch_up:.1f} ms" if catch_up else ""))  # fmt: skip


T0 = datetime(2026, 1, 1, tzinfo=UTC)
_NEW_RUN_HOURS = itertools.count(10_000)
"""Logical times of the runs made between scrapes, clear of the history's."""


def write_history(store: Store, jobs: Sequence[Job], runs_per_job: int, first: int = 0) -> None:
    """Finished successful runs of every job, each attempt recorded, in one transaction."""
    with store.transaction():
        for round_ in range(first, first + runs_per_job):
            for index, job in enumerate(jobs):
                at = T0 + timedelta(hours=round_, seconds=index)
                run = store.create_run(job, at, Trigger.SCHEDULE, at)
                assert run is not None
                store.mark_run_started(run, at, trace_id=f"{run.id:032x}")
                for name in job.tasks:
                    attempt = store.start_attempt(run, name, at)
                    assert attempt is not None
                    store.finish_attempt(attempt, TaskState.SUCCESS, at + timedelta(seconds=2))
                store.mark_run_finished(run, RunState.SUCCESS, at + timedelta(seconds=3))


def timed_scrapes(url: str, writer: Store, job: Job, *, openmetrics: bool) -> list[float]:
    """Scrape times in ms; a new run of ``job`` lands before each scrape."""
    accept = "application/openmetrics-text; version=1.0.0" if openmetrics else "text/plain"
    times = []
    for _ in range(SCRAPES):
        write_history(writer, [job], 1, first=next(_NEW_RUN_HOURS))
        request = urllib.request.Request(f"{url}/metrics", headers={"Accept": accept})
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=30) as response:
            body = response.read()
        times.append((time.perf_counter() - started) * 1000)
    assert body
    return times


def scrape_case(
    label: str, db_url: str, writer: Store, jobs: Sequence[Job], *, seen: bool
) -> dict[str, float]:
    """Print and return the median scrape in ms per format, ``seen``: after consuming all."""
    medians = {}
    with Store.open(db_url, migrate=False, recover=False) as reader:
        consumer = MetricsConsumer(reader, MetricsCollector(CollectorRegistry()))
        if seen:
            consumer.cursor = 0  # consume the whole history, as a long-running serve has
        else:
            consumer.start()
        consumer.collector.set_jobs(jobs)
        started = time.perf_counter()
        first_size = [sum(map(len, consumer.exposition(om))) for om in (False, True)]
        warm = (time.perf_counter() - started) * 1000
        server = telemetry_server("127.0.0.1:0", render=consumer.exposition,
                                  health=HeartbeatHealth(lambda: None))  # fmt: skip
        with server:
            for openmetrics in (False, True):
                times = timed_scrapes(server.url, writer, jobs[0], openmetrics=openmetrics)
                kind = "openmetrics" if openmetrics else "text"
                medians[kind] = statistics.median(times)
                print(f"scrape [{label}, {kind}, {first_size[openmetrics] / 1e6:.1f} MB]: "
                      f"median {statistics.median(times):.1f} ms, max {max(times):.1f} ms "
                      f"(first render of both formats {warm:.0f} ms; events read "
                      f"{consumer.events_read})")  # fmt: skip
    return medians


def scrape() -> float:
    """/metrics with 1,000 jobs x 10 tasks of history; returns the median text scrape in ms
    of a fresh serve."""
    jobs = [
        Job(name=f"job{j:04d}", tasks={f"task{t}": Task(f"task{t}", command=("true",))
                                       for t in range(10)}, schedule="0 * * * *")
        for j in range(1000)
    ]  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        db_url = f"sqlite:///{tmp}/bench.db"
        with Store.open(db_url) as writer:
            writer.sync_jobs(jobs, T0)
            started = time.perf_counter()
            write_history(writer, jobs, 1)
            print(f"history: 1,000 jobs x 10 tasks, 1 run each, written in "
                  f"{time.perf_counter() - started:.0f} s")  # fmt: skip
            fresh = scrape_case("fresh serve, 1 run/job", db_url, writer, jobs, seen=False)
            scrape_case("serve that saw every run, 1 run/job", db_url, writer, jobs, seen=True)
            write_history(writer, jobs, 2, first=1)
            scrape_case("fresh serve, 3 runs/job", db_url, writer, jobs, seen=False)
    return fresh["text"]


if __name__ == "__main__":
    wanted = sys.argv[1:] or ["overhead", "scrape"]
    for name in wanted:
        {"overhead": overhead, "scrape": scrape}[name]()
