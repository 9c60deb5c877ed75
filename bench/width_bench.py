"""Cost per task as a job grows wide (issue 15): 1 -> N -> 1 fan-out/fan-in of in-process
no-op Python tasks, every attempt durably recorded in SQLite, at N = 10 … 10,000.

    python bench/width_bench.py [--widths 10,200,1000,2000,5000,10000] [--repeats 3]

Prints, per width, the cost per task (wall time of the run / (N + 2)), min/median/max over
the repeats, with the load average and the number of cores. In-process
tasks keep the subprocess and worker costs out, so what grows here is the engine's own
bookkeeping: flat means each finished attempt costs the same however wide the job is.
"""

from __future__ import annotations

import argparse

from runner_bench import fan_job, time_job  # sibling modules: run this file as a script
from stats import machine, repeat


def per_task_ms(width: int) -> float:
    """One sample: milliseconds per task of one run at ``width``, wall time / (width + 2)."""
    return time_job(fan_job(width, in_process=True), workers=2) / (width + 2) * 1000


def main() -> None:
    """Measure and print one line per width."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--widths", default="10,200,1000,2000,5000,10000")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(machine())
    for width in (int(w) for w in args.widths.split(",")):
        summary = repeat(lambda width=width: per_task_ms(width), args.repeats)
        print(
            f"N={width:>6}: {summary.spread(3)} ms per task (min/median/max), {summary.load()}",
            flush=True,
        )


if __name__ == "__main__":
    main()
