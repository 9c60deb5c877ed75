"""A sensor poking every second holds no worker (issue 18).

    python bench/sensor_bench.py [--seconds 600] [--interval 1]

Runs one job whose sensor waits for a file that never appears (``on_timeout: skip``
after ``--seconds``) next to nothing else, on an engine with 2 workers, and samples
once a second: attempts running in the store, attempts the executor was handed, the
process's threads and child processes. Prints the maxima, the pokes recorded, and the
CPU time per poke, with the load average and the number of cores.
"""

from __future__ import annotations

import argparse
import os
import queue
import resource
import tempfile
import threading
import time
from pathlib import Path

from stats import load_average, machine  # the sibling module: run this file as a script

from runner.clock import utcnow
from runner.engine.engine import Engine
from runner.engine.executor import Message
from runner.events import TaskPoked
from runner.executors.local.executor import LocalExecutor
from runner.model import Job, OnTimeout, Sensor, SensorKind, Task, Trigger
from runner.store.leases import running_attempt_count
from runner.store.store import Store


def children() -> int:
    """Child processes of this process (the keeper and Python workers among them)."""
    me = str(os.getpid())
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            count += fields[1] == me
    return count


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=600.0)
    parser.add_argument("--interval", type=float, default=1.0)
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(f"sqlite:///{tmp}/bench.db")
        messages: queue.SimpleQueue[Message] = queue.SimpleQueue()
        executor = LocalExecutor(messages, python_workers=2)
        engine = Engine(store, executor, messages, log_dir=Path(tmp) / "logs", workers=2)
        sensor = Sensor(
            kind=SensorKind.FILE,
            target=f"{tmp}/never/*.csv",
            interval=args.interval,
            timeout=args.seconds,
            on_timeout=OnTimeout.SKIP,
        )
        job = Job(name="sensing", tasks={"wait": Task("wait", sensor=sensor)})
        now = utcnow()
        store.sync_jobs([job], now)
        run = store.create_run(job, now, Trigger.MANUAL, now)
        assert run is not None
        samples: list[tuple[int, int, int, int]] = []
        done = threading.Event()

        def sample() -> None:
            watcher = Store.open(f"sqlite:///{tmp}/bench.db", recover=False)
            while not done.wait(1.0):
                running = running_attempt_count(watcher, run.id)
                handed = len(engine._by_key)  # what the executor was given, and not yet back
                samples.append((running, handed, threading.active_count(), children()))
            watcher.close()

        before, cpu_before = load_average(), resource.getrusage(resource.RUSAGE_SELF)
        watcher = threading.Thread(target=sample)
        watcher.start()
        started = time.monotonic()
        final = engine.execute(job, run)
        elapsed = time.monotonic() - started
        done.set()
        watcher.join()
        cpu = resource.getrusage(resource.RUSAGE_SELF)
        pokes = sum(isinstance(e, TaskPoked) for e in store.events_after(0))
        engine.close()
        store.close()
    used = (cpu.ru_utime - cpu_before.ru_utime) + (cpu.ru_stime - cpu_before.ru_stime)
    print(f"run {final.state.value} after {elapsed:.0f} s, {pokes} pokes, {len(samples)} samples")
    print(
        "max running attempts "
        f"{max(s[0] for s in samples)}, max attempts handed to the executor "
        f"{max(s[1] for s in samples)}, threads {min(s[2] for s in samples)}-"
        f"{max(s[2] for s in samples)}, child processes {max(s[3] for s in samples)}"
    )
    print(
        f"CPU {used:.2f} s ({used / max(pokes, 1) * 1000:.2f} ms per poke, "
        f"{used / elapsed * 100:.2f} % of a core), load {before:.2f} → {load_average():.2f}"
    )


if __name__ == "__main__":
    main()
