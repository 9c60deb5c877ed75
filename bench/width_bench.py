"""Cost per task as a job grows wide (issue 15): 1 -> N -> 1 fan-out/fan-in of no-op
Python tasks, every attempt durably recorded in SQLite, at N = 10 … 10,000.

    python bench/width_bench.py [--widths 10,200,1000,2000,5000,10000] [--repeats 3]
                                [--kind inprocess|python|readme]

Prints, per width, the cost per task (wall time of the run / (N + 2)), min/median/max over
the repeats, with the load average and the number of cores. In-process tasks (the
default) keep the subprocess and worker costs out, so what grows there is the engine's own
bookkeeping: flat means each finished attempt costs the same however wide the job is.
``python`` runs them in the pool's worker processes (two), ``readme`` the same with tasks
written as the README's Python job writes them.
"""

from __future__ import annotations

import argparse
import functools

from runner_bench import fan_job, time_job  # sibling modules: run this file as a script
from stats import machine, repeat


def per_task_ms(width: int, kind: str = "inprocess") -> float:
    """One sample: milliseconds per task of one run at ``width``, wall time / (width + 2)."""
    return time_job(fan_job(width, kind), workers=2) / (width + 2) * 1000


def main() -> None:
    """Measure and print one line per width."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--widths", default="10,200,1000,2000,5000,10000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--kind", choices=("inprocess", "python", "readme"), default="inprocess")
    args = parser.parse_args()
    print(machine())
    for width in (int(w) for w in args.widths.split(",")):
        summary = repeat(functools.partial(per_task_ms, width, args.kind), args.repeats)
        print(
            f"N={width:>6} ({args.kind}): {summary.spread(3)} ms per task (min/median/max), "
            f"{summary.load()}",
            flush=True,
        )


if __name__ == "__main__":
    main()
