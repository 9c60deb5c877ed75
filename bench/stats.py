"""The one summary every benchmark prints: min / median / max of repeats, with the load
average before and after and the number of cores."""

from __future__ import annotations

import os
import shutil
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass


def load_average() -> float:
    """The one-minute load average."""
    return os.getloadavg()[0]


@dataclass(frozen=True)
class Summary:
    """Repeated samples of one figure and the machine's load around them."""

    samples: tuple[float, ...]
    load_before: float
    load_after: float

    @property
    def min(self) -> float:
        """The smallest sample."""
        return min(self.samples)

    @property
    def median(self) -> float:
        """The median sample."""
        return statistics.median(self.samples)

    @property
    def max(self) -> float:
        """The largest sample."""
        return max(self.samples)

    def spread(self, digits: int = 2) -> str:
        """``min / median / max`` with ``digits`` decimals."""
        return " / ".join(f"{v:.{digits}f}" for v in (self.min, self.median, self.max))

    def load(self) -> str:
        """``load 2.31 → 2.80``: the load average before and after."""
        return f"load {self.load_before:.2f} → {self.load_after:.2f}"


def summarize(samples: Iterable[float], load_before: float) -> Summary:
    """A summary of ``samples`` taken since the load average was ``load_before``."""
    return Summary(tuple(samples), load_before, load_average())


def repeat(sample: Callable[[], float], repeats: int) -> Summary:
    """Call ``sample`` ``repeats`` times and summarize what it returned."""
    before = load_average()
    return summarize([sample() for _ in range(repeats)], before)


def machine() -> str:
    """``nproc 2, speed: …``: the cores this process may use, and how fast this host runs
    Python and spawns a process right now (``speed``)."""
    return f"nproc {len(os.sched_getaffinity(0))}, speed: {speed()}"


def speed() -> str:
    """How fast this host is at this moment, so that figures taken on different hosts (or
    hours: the shared machine's speed changes by 2-3x) can be told apart: the best of 5
    times of a pure-Python loop of 10**6 additions, and of one ``posix_spawn`` of `true`
    and its ``waitpid``. B2's ratio moves with the second against the first."""
    loops, spawns = [], []
    true = shutil.which("true") or "/bin/true"
    for _ in range(5):
        started = time.perf_counter()
        total = 0
        for i in range(1_000_000):
            total += i
        loops.append(time.perf_counter() - started)
        started = time.perf_counter()
        for _ in range(20):
            os.waitpid(os.posix_spawn(true, [true], os.environ), 0)
        spawns.append((time.perf_counter() - started) / 20)
    return f"Python loop {min(loops) * 1000:.0f} ms, spawn of `true` {min(spawns) * 1000:.2f} ms"
