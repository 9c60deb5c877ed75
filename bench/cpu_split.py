"""Where B2's CPU goes: per `true` command, the CPU of each part of a run (issue 15).

    python bench/cpu_split.py [--commands 500] [--workers 8] [--repeats 5]

A job of ``--commands`` independent `true` commands runs in this process (the engine, the
local executor and its keeper, a fresh SQLite store, the keeper warm). The CPU time of
the engine's main thread, of the thread that hears the keeper, and of the keeper process
is read from ``/proc/…/stat`` before and after the run, as is the whole machine's busy
time; beside it, the CPU of `true` itself, from a bare ``posix_spawn`` + ``waitpid``
loop (the children's rusage). Prints min / median / max of each, in ms per command, with
the load average and the number of cores.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from runner_bench import fresh_engine
from stats import Summary, load_average, machine, summarize

from runner import processes
from runner.clock import utcnow
from runner.model import Job, Task, Trigger

_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_ms(stat: str) -> float:
    """User + system CPU of the task or process whose ``/proc/…/stat`` is ``stat``."""
    fields = Path(stat).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK * 1000


def _machine_busy_ms() -> float:
    """The machine's busy time, all cores (``/proc/stat``)."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    return (sum(values) - idle) / _TICK * 1000


def _keeper_pid() -> int:
    """This process's keeper: its child running the keeper's module."""
    module = processes.KEEPER_MODULE.encode()
    for entry in os.listdir("/proc"):
        mine = entry.isdigit() and processes.parent_of(int(entry)) == os.getpid()
        if mine and module in processes.command_line(int(entry)):
            return int(entry)
    raise RuntimeError("no keeper process found")


def _threads() -> dict[str, float]:
    """CPU of each thread of this process, by thread name."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    found = {}
    for tid in os.listdir("/proc/self/task"):
        name = names.get(int(tid), tid)
        found[name] = _cpu_ms(f"/proc/self/task/{tid}/stat")
    return found


def split(commands: int, workers: int) -> dict[str, float]:
    """One run: ms of CPU per command of each part, and its wall time per command."""
    job = Job("trues", tasks={f"t{i}": Task(f"t{i}", command=("true",)) for i in range(commands)})
    warm = Job("warm", tasks={"w": Task("w", command=("true",))})
    with fresh_engine(workers) as (store, engine):
        now = utcnow()
        store.sync_jobs([job, warm], now)
        warm_run = store.create_run(warm, now, Trigger.MANUAL, now)
        run = store.create_run(job, now, Trigger.MANUAL, now)
        assert warm_run is not None
        assert run is not None
        engine.execute(warm, warm_run)  # the keeper started and warm
        keeper_stat = f"/proc/{_keeper_pid()}/stat"
        threads, kept, busy = _threads(), _cpu_ms(keeper_stat), _machine_busy_ms()
        started = time.perf_counter()
        engine.execute(job, run)
        wall = (time.perf_counter() - started) * 1000
        after, kept_after, busy_after = _threads(), _cpu_ms(keeper_stat), _machine_busy_ms()
    hearing = "runwatch-keeper"
    return {
        "engine main thread": (after["MainThread"] - threads["MainThread"]) / commands,
        "thread hearing the keeper": (after[hearing] - threads[hearing]) / commands,
        "keeper process": (kept_after - kept) / commands,
        "machine busy, all cores": (busy_after - busy) / commands,
        "wall": wall / commands,
    }


def bare_true(commands: int) -> float:
    """ms of CPU of one `true` (posix_spawn, then waitpid), from the children's rusage."""
    env = dict(os.environ)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for _ in range(commands):
        os.waitpid(os.posix_spawn("/usr/bin/true", ["true"], env, setsid=True), 0)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    used = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return used * 1000 / commands


def _repeat(sample: Callable[[], dict[str, float]], repeats: int) -> dict[str, Summary]:
    before = load_average()
    samples = [sample() for _ in range(repeats)]
    return {name: summarize([s[name] for s in samples], before) for name in samples[0]}


def main(argv: list[str]) -> None:
    """Print the split."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--commands", type=int, default=500)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    options = parser.parse_args(argv)
    print(f"{machine()}, {options.commands} `true`, {options.workers} workers")
    figures = _repeat(lambda: split(options.commands, options.workers), options.repeats)
    figures |= _repeat(lambda: {"`true` itself": bare_true(options.commands)}, options.repeats)
    for name, summary in figures.items():
        print(f"{name}: {summary.spread(3)} ms per command (min/median/max), {summary.load()}")


if __name__ == "__main__":
    main(sys.argv[1:])
