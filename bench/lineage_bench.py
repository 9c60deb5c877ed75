"""How much an OpenLineage endpoint that is down or slow delays a run (issue 19).

    python bench/lineage_bench.py [rounds]

A 1 -> 20 -> 1 job of `true` commands with declared outputs, run by the engine on a
SQLite store while the OpenLineage consumer follows the event log on its own connection
in a thread of the same process, as in ``serve``, with the real client's HTTP transport
(timeout 1 s, its default retries): "off" (no lineage), "up" (a loopback endpoint that
answers at once), "down" (a port nothing listens on) and "slow" (an endpoint that waits
2 s before it answers). Each round runs the four back to back; reported per variant:
the per-round differences to "off" (lineage's own cost) and, for "down" and "slow", to
"up" (what a bad endpoint adds), in ms, min / median / max over rounds (medians of
per-round differences are robust to load from other processes), and the events sent,
failed and dropped by the end of the last round's run.

Recorded figures: bench/README.md.
"""

from __future__ import annotations

import queue
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from stats import load_average, machine, summarize

from runner.clock import utcnow
from runner.dataset_names import Dataset
from runner.engine.engine import Engine
from runner.engine.executor import Message
from runner.executors.local.executor import LocalExecutor
from runner.lineage.consumer import LineageConsumer, LineageLoop
from runner.lineage.emitter import LineageEmitter
from runner.model import Job, Task, Trigger
from runner.store.store import Store

WIDTH = 20
VARIANTS = ("off", "up", "down", "slow")
SLOW_SECONDS = 2.0
OUT = Dataset("file", "/bench/out.csv")


def job() -> Job:
    def one(name: str, after: tuple[str, ...] = ()) -> Task:
        return Task(name, command=("true",), after=after, outputs=(OUT,))

    middle = tuple(f"t{i}" for i in range(WIDTH))
    tasks = {"first": one("first"), **{n: one(n, ("first",)) for n in middle}}
    tasks["last"] = one("last", middle)
    return Job(name="lineage-bench", tasks=tasks)


@contextmanager
def endpoint(delay: float) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            time.sleep(delay)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            return

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def closed_port() -> str:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def client_for(url: str) -> Callable[[], object]:
    def make() -> object:
        from openlineage.client import OpenLineageClient

        return OpenLineageClient(config={"transport": {"type": "http", "url": url, "timeout": 1}})

    return make


def timed_run(db_url: str, log_dir: Path, url: str | None) -> tuple[float, LineageEmitter | None]:
    """Seconds for one run of the job, with lineage to ``url`` running beside it."""
    store = Store.open(db_url)
    messages: queue.SimpleQueue[Message] = queue.SimpleQueue()
    engine = Engine(store, LocalExecutor(messages), messages, log_dir=log_dir, workers=2)
    loop = emitter = None
    reader = None
    if url is not None:
        reader = Store.open(db_url, migrate=False, recover=False)
        emitter = LineageEmitter(client_for(url))
        loop = LineageLoop(LineageConsumer(reader, emitter, "bench"))
        loop.start()
    try:
        definition = job()
        now = utcnow()
        store.sync_jobs([definition], now)
        run = store.create_run(definition, now, Trigger.MANUAL, now)
        assert run is not None
        started = time.perf_counter()
        engine.execute(definition, run)
        elapsed = time.perf_counter() - started
    finally:
        if loop is not None:
            loop.stopped.set()
            loop.join(5)
        engine.close()
        store.close()
        if reader is not None:
            reader.close()
    return elapsed, emitter


def measure(rounds: int) -> dict[str, tuple[float, float, float]]:
    """Per variant: min / median / max over rounds of (its run - off's run), in ms."""
    deltas: dict[str, list[float]] = {v: [] for v in VARIANTS[1:]}
    against_up: dict[str, list[float]] = {v: [] for v in VARIANTS[2:]}
    off: list[float] = []
    counts: dict[str, tuple[int, int, int]] = {}
    with tempfile.TemporaryDirectory() as tmp, endpoint(0.0) as up, endpoint(SLOW_SECONDS) as slow:
        urls = {"off": None, "up": up, "down": closed_port(), "slow": slow}
        for n in range(rounds):
            times = {}
            for variant in VARIANTS:
                db = f"sqlite:///{Path(tmp) / f'{variant}-{n}.db'}"
                times[variant], emitter = timed_run(db, Path(tmp) / "logs", urls[variant])
                if emitter is not None:
                    counts[variant] = (emitter.sent, emitter.failed, emitter.dropped)
            off.append(times["off"] * 1000)
            for variant in VARIANTS[1:]:
                deltas[variant].append((times[variant] - times["off"]) * 1000)
            for variant in VARIANTS[2:]:
                against_up[variant].append((times[variant] - times["up"]) * 1000)
    print(f"off: the run alone  min {min(off):.1f} / median {statistics.median(off):.1f} ms")
    for variant, values in deltas.items():
        sent, failed, dropped = counts[variant]
        print(
            f"{variant}: run delay vs off  min {min(values):.1f} / median "
            f"{statistics.median(values):.1f} / max {max(values):.1f} ms  "
            f"(last round at run end: {sent} sent, {failed} failed, {dropped} dropped)"
        )
    for variant, values in against_up.items():
        print(
            f"{variant}: run delay vs up   min {min(values):.1f} / median "
            f"{statistics.median(values):.1f} / max {max(values):.1f} ms"
        )
    return {v: (min(d), statistics.median(d), max(d)) for v, d in deltas.items()}


def main(argv: list[str]) -> None:
    rounds = int(argv[0]) if argv else 11
    before = load_average()
    print(f"{machine()}, load average {before:.2f}; {rounds} rounds of off/up/down/slow")
    measure(rounds)
    print(summarize([load_average()], before).load())


if __name__ == "__main__":
    main(sys.argv[1:])
