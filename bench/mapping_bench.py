"""Cost per mapped instance against a static fan-out's cost per task (issue 18).

    python bench/mapping_bench.py [--width 1000] [--repeats 5] [--kind inprocess|command]

The same 1 -> N -> 1 job twice, measured interleaved: *static* has N tasks written out
(``bench/runner_bench.py``'s fan job), *mapped* has one task with ``map_over`` the first
task's result, a list of N elements, so N instances are expanded at run time. Prints,
per shape, wall time / (N + 2) in milliseconds (min/median/max) and the median ratio
mapped / static, with the load average and the number of cores. Goal: within 20 %.
"""

from __future__ import annotations

import argparse
import statistics

from runner_bench import fan_job, time_job  # sibling modules: run this file as a script
from stats import load_average, machine, summarize

from runner.model import Job, Task, UpstreamResult


def elements(width: int) -> list[int]:
    """The first task: the list to map over."""
    return list(range(width))


def take(_element: object) -> None:
    """A mapped no-op: called with its element."""


def finish(*_upstream: object) -> None:
    """The last task."""


def mapped_job(width: int, kind: str) -> Job:
    """first -> ``width`` instances of one mapped task -> last."""
    inprocess = kind == "inprocess"
    if inprocess:
        each = Task(
            "each",
            python=take,
            args=(UpstreamResult("first"),),
            in_process=True,
            map_over="first",
            after=("first",),
            max_map=width,
        )
    else:
        each = Task("each", command=("true",), map_over="first", after=("first",), max_map=width)
    tasks = {
        "first": Task("first", python=elements, args=(width,), in_process=True),
        "each": each,
        "last": Task("last", python=finish, in_process=True, after=("each",)),
    }
    return Job(name=f"mapped{width}", tasks=tasks)


def per_task_ms(job: Job, width: int) -> float:
    """One sample: milliseconds per task of one run, wall time / (width + 2)."""
    return time_job(job, workers=2) / (width + 2) * 1000


def main() -> None:
    """Measure static and mapped, interleaved, and print both and their ratio."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--width", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--kind", choices=("inprocess", "command"), default="inprocess")
    args = parser.parse_args()
    print(machine())
    static_job, mapped = fan_job(args.width, args.kind), mapped_job(args.width, args.kind)
    before = load_average()
    static_samples, mapped_samples = [], []
    for _ in range(args.repeats):
        static_samples.append(per_task_ms(static_job, args.width))
        mapped_samples.append(per_task_ms(mapped, args.width))
    static, mapped_summary = summarize(static_samples, before), summarize(mapped_samples, before)
    ratio = statistics.median(m / s for m, s in zip(mapped_samples, static_samples, strict=True))
    print(f"static N={args.width} ({args.kind}): {static.spread(3)} ms per task, {static.load()}")
    print(
        f"mapped N={args.width} ({args.kind}): {mapped_summary.spread(3)} ms per instance, "
        f"{mapped_summary.load()}"
    )
    print(f"mapped / static, median of {args.repeats} interleaved pairs: {ratio:.2f}")


if __name__ == "__main__":
    main()
