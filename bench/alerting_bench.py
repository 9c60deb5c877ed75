"""Benchmarks of alerting (issue: alerting). Results go to bench/README.md.

    python bench/alerting_bench.py [a1|a2 ...] [--pg URL]

A1: from a task's failure (its events appended to the store) to the HTTP request
    reaching a loopback Slack webhook, through the real engine, outbox, sender and
    slack-sdk, with group_wait 0s. A serve-like loop evaluates and delivers every
    POLL seconds in its own thread; median and p95 of 50 failures of distinct jobs.
    Also the same path without polling (evaluate + deliver right after the failure).
A2: 10,000 events of 200 jobs evaluated against 50 rules: events/s of one
    AlertEngine.evaluate() call on the store (reading the events, writing alerts,
    groups and outbox rows in one transaction), and of the in-memory evaluation alone.

On PostgreSQL give each run a fresh schema, e.g.
``--pg 'postgresql://postgres@127.0.0.1/test?options=-csearch_path%3Dbench1'``, as A1
leaves firing alerts behind. The engine runs on the events' own timeline (each change
flushed at its own due time), so with group_wait/group_interval 0s A2's history queues
1,498 notifications where one flush at the end queued 60. Recorded figures:
bench/README.md, from bench/run.py.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from alerting import AlertEngine, Sender, parse_alerting
from alerting.evaluation import Evaluator
from alerting.job_facts import JobInfo
from runner.events import (
    AttemptFailed,
    AttemptStarted,
    AttemptSucceeded,
    Event,
    RunFailed,
    RunStarted,
    RunSucceeded,
)
from runner.model import Job, Task
from runner.store.store import Store

POLL = 0.1
FAILURES = 50


class _Receiver:
    """A loopback Slack webhook that timestamps each request's arrival."""

    def __init__(self) -> None:
        self.arrivals: list[float] = []
        self.arrived = threading.Event()
        box = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                box.arrivals.append(time.perf_counter())
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
                box.arrived.set()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/services/T/B/X"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()


def _failure(store: Store, job: str, run_id: int) -> None:
    now = datetime.now(UTC)
    store.append(
        AttemptFailed(
            at=now, job=job, run_id=run_id, task="load", attempt=1, exit_code=1, error="boom"
        )
    )
    store.append(RunFailed(at=now, job=job, run_id=run_id, failed_tasks=["load"]))


def a1(url: str) -> dict[str, float]:
    """Failure -> HTTP request latency, with a polling loop and without."""
    receiver = _Receiver()
    raw = {
        "receivers": {"slack": {"slack": {"webhook_url": receiver.url}}},
        "route": {"receiver": "slack", "group_wait": "0s", "group_interval": "0s"},
        "rules": [{"alert": "JobFailed", "when": "run_failed", "severity": "error"}],
    }
    config = parse_alerting(raw)
    loop_store, writer = Store.open(url), Store.open(url)
    engine, sender = AlertEngine(loop_store, config), Sender(loop_store, config)
    stop = threading.Event()

    def serve_loop() -> None:
        while not stop.is_set():
            engine.evaluate()
            sender.deliver_due()
            stop.wait(POLL)

    thread = threading.Thread(target=serve_loop, daemon=True)
    thread.start()
    polled = []
    for i in range(FAILURES):
        receiver.arrived.clear()
        start = time.perf_counter()
        _failure(writer, f"polled-{i}", i)
        receiver.arrived.wait(10)
        polled.append(receiver.arrivals[-1] - start)
        time.sleep(POLL * 0.37)  # do not stay in phase with the loop
    stop.set()
    thread.join()
    direct = []
    for i in range(FAILURES):
        receiver.arrived.clear()
        start = time.perf_counter()
        _failure(writer, f"direct-{i}", 1000 + i)
        engine.evaluate()
        sender.deliver_due()
        receiver.arrived.wait(10)
        direct.append(receiver.arrivals[-1] - start)
    sender.close()
    loop_store.close()
    writer.close()
    receiver.httpd.shutdown()
    return {
        "polled_median_ms": statistics.median(polled) * 1000,
        "polled_p95_ms": sorted(polled)[int(len(polled) * 0.95) - 1] * 1000,
        "direct_median_ms": statistics.median(direct) * 1000,
    }


def _rules() -> list[dict[str, Any]]:
    kinds: list[tuple[str, dict[str, object]]] = [
        ("run_failed", {}),
        ("task_failed", {}),
        ("consecutive_failures", {"threshold": 3}),
        ("duration_exceeded", {"threshold": "45m"}),
        ("retries_exhausted", {}),
        ("run_missed", {}),
        ("run_overdue", {}),
        ("stale", {"for": "26h"}),
        ("deadline_missed", {"deadline": "2h"}),
    ]
    rules = []
    for i in range(50):
        kind, params = kinds[i % len(kinds)]
        matchers = [f"tags =~ .*t{i % 5}.*"] if i % 2 else [f"owner = team-{i % 4}"]
        rules.append(
            {
                "alert": f"Rule{i}",
                "when": kind,
                "severity": "warning",
                "matchers": matchers,
                **params,
            }
        )
    return rules


def _history(jobs: int, total: int) -> list[Event]:
    start = datetime(2030, 1, 1, tzinfo=UTC)
    events: list[Event] = []
    run_id = 0
    while len(events) < total:
        run_id += 1
        job = f"job-{run_id % jobs}"
        at = start + timedelta(seconds=run_id)
        ok = run_id % 3 != 0
        events.append(RunStarted(at=at, job=job, run_id=run_id, logical_time=at))
        events.append(AttemptStarted(at=at, job=job, run_id=run_id, task="load", attempt=1))
        if ok:
            events.append(AttemptSucceeded(at=at, job=job, run_id=run_id, task="load", attempt=1))
            events.append(RunSucceeded(at=at, job=job, run_id=run_id, duration_seconds=5.0))
        else:
            events.append(
                AttemptFailed(
                    at=at, job=job, run_id=run_id, task="load", attempt=1, exit_code=1, error="boom"
                )
            )
            events.append(RunFailed(at=at, job=job, run_id=run_id, failed_tasks=["load"]))
    return events[:total]


def _store_with_history(url: str, jobs: list[Job], events: list[Event]) -> Store:
    store = Store.open(url)
    store._db.execute("DELETE FROM events")
    for table in ("consumer_cursors", "alert_job_facts", "alerts", "alert_groups", "notifications"):
        store._db.execute(f"DELETE FROM {table}")
    store.sync_jobs(jobs, datetime(2030, 1, 1, tzinfo=UTC))
    with store.transaction():
        for event in events:
            store.append(event)
    return store


def a2(url: str, total: int = 10_000, repeats: int = 3) -> dict[str, float]:
    """Events per second through 50 rules: on the store, and in memory (median of 3)."""
    raw = {
        "receivers": {"m": {"memory": {}}},
        "route": {"receiver": "m", "group_wait": "0s", "group_interval": "0s"},
        "rules": _rules(),
    }
    config = parse_alerting(raw)
    jobs = [
        Job(
            f"job-{i}",
            {"load": Task("load", command=("true",))},
            owner=f"team-{i % 4}",
            tags=(f"t{i % 5}", "etl"),
        )
        for i in range(200)
    ]
    events = _history(200, total)
    now = datetime(2030, 1, 1, 3, tzinfo=UTC)
    on_store = []
    for _ in range(repeats):
        store = _store_with_history(url, jobs, events)
        start = time.perf_counter()
        report = AlertEngine(store, config).evaluate(now)
        on_store.append(time.perf_counter() - start)
        store.close()
        assert report.events == total, report
    infos = {j.name: JobInfo(j.owner, j.tags) for j in jobs}
    memory = []
    for _ in range(repeats):
        evaluator = Evaluator(config, infos=infos)
        start = time.perf_counter()
        evaluator.process(events)
        memory.append(time.perf_counter() - start)
    return {
        "events": total,
        "fired": report.fired,
        "resolved": report.resolved,
        "notifications_queued": report.notifications,
        "store_events_per_s": total / statistics.median(on_store),
        "memory_events_per_s": total / statistics.median(memory),
    }


def main(argv: list[str]) -> None:
    """Run the chosen benchmarks (default: all) on SQLite, or PostgreSQL with --pg URL."""
    url = None
    if "--pg" in argv:
        url = argv[argv.index("--pg") + 1]
        argv = [a for a in argv if a not in ("--pg", url)]
    chosen = argv or ["a1", "a2"]
    with tempfile.TemporaryDirectory() as tmp:
        for name in chosen:
            db = url or f"sqlite:///{Path(tmp) / f'{name}.db'}"
            result = {"a1": a1, "a2": a2}[name](db)
            print(
                name,
                " ".join(
                    f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}"
                    for k, v in result.items()
                ),
            )


if __name__ == "__main__":
    main(sys.argv[1:])
