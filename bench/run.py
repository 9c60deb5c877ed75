"""Run every benchmark of bench/ with N repeats; print min / median / max of each figure with
the load average and the number of cores; with --write, record the table in bench/README.md.

    python bench/run.py [--repeats 5] [--only NAME,...] [--slow] [--write] [--list]

The quick set (the default) finishes in a few minutes on 2 cores; the slow benchmarks (the
65 s scheduler runs, 10,000 tasks wide, the seeded dashboard, Celery on Redis and
PostgreSQL) run only when named with --only or when --slow is given. Figures in
bench/README.md are recorded only from this script: --write replaces the table between
its markers with the one just measured, dated, with the git commit it measured.
"""

from __future__ import annotations

import argparse
import functools
import platform
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from stats import Summary, load_average, machine, summarize

BENCH = Path(__file__).resolve().parent
README = BENCH / "README.md"
BEGIN = "<!-- bench/run.py:begin -->"
END = "<!-- bench/run.py:end -->"


@dataclass(frozen=True)
class Bench:
    """One benchmark: a sample function returning its figure, or several named figures."""

    name: str
    what: str
    unit: str
    target: str
    sample: Callable[[], float | Mapping[str, float]]
    slow: bool = False
    warmup: Callable[[], object] | None = None


@functools.cache
def _warm_engine() -> None:
    """One unmeasured run in this process first: imports and first-use costs of the engine,
    the store and the worker pool stay out of the first sample of in-process figures."""
    import runner_bench

    runner_bench.b1_per_task_ms()


def _b1(kind: str) -> float:
    import runner_bench

    return runner_bench.b1_per_task_ms(kind)


def _b2() -> float:
    import runner_bench

    return runner_bench.b2_percent()


def _b2_process() -> float:
    import runner_bench

    return runner_bench.b2_process_percent()


def _b3() -> float:
    import runner_bench

    return runner_bench.b3_ms()


def _width(width: int, kind: str = "inprocess") -> Callable[[], float]:
    def sample() -> float:
        import width_bench

        return width_bench.per_task_ms(width, kind)

    return sample


def _statements() -> Mapping[str, float]:
    import statement_bench

    return {
        label: statement_bench.per_attempt(job)
        for label, job in statement_bench.workloads().items()
    }


def _memory() -> float:
    import memory_bench

    return memory_bench.cli_peak_mib(10_000)


def _wrap() -> float:
    import wrap_bench

    return wrap_bench.overhead_ms()


def _telemetry(index: int) -> Callable[[], float]:
    def sample() -> float:
        import telemetry_bench

        return telemetry_bench.overhead_percent(telemetry_bench.VARIANTS[index])

    return sample


def _scrape() -> float:
    import telemetry_bench

    return telemetry_bench.scrape()


def _alerting(which: str, key: str) -> Callable[[], float]:
    def sample() -> float:
        import alerting_bench

        with tempfile.TemporaryDirectory() as tmp:
            run = getattr(alerting_bench, which)
            return float(run(f"sqlite:///{Path(tmp) / 'alerting.db'}")[key])

    return sample


def _lag() -> Mapping[str, float]:
    import scheduler_bench

    return scheduler_bench.lag(65.0)


def _idle() -> float:
    import scheduler_bench

    return scheduler_bench.idle(65.0)


def _dashboard() -> float:
    import dashboard_bench

    return dashboard_bench.slowest_page_s()


def _celery() -> Mapping[str, float]:
    import celery_bench

    options = argparse.Namespace(
        tasks=200, repeat=1, broker=celery_bench.BROKER, pg=celery_bench.PG, concurrency=[2]
    )
    medians = celery_bench.measure(options)
    return {"via Celery": medians["celery K=2"], "local executor": medians["local K=2"]}


BENCHES = (
    Bench("b1", "B1 1 → 200 → 1 no-op Python tasks, worker processes: cost per extra task, "
          "(T(200) - T(10)) / 190", "ms", "≤ 1.5 (issue 15: ≤ 0.5)", lambda: _b1("python"),
          warmup=_warm_engine),
    Bench("b1-readme", "B1 with the tasks written as the README's Python job writes them "
          "(`@task` functions), worker processes", "ms", "issue 15: ≤ 0.5",
          lambda: _b1("readme"), warmup=_warm_engine),
    Bench("b1-inprocess", "B1, in-process tasks", "ms", "≤ 1.5", lambda: _b1("inprocess"),
          warmup=_warm_engine),
    Bench("b2", "B2 500 `true` commands, 2 workers, throughput as a share of a plain "
          "`subprocess.run` loop's, in-process", "%", "≥ 60", _b2),
    Bench("b2-process", "B2 as a user runs it: `runwatch run` of 500 `true` commands (YAML, "
          "default settings), whole process, throughput as a share of `python` running the "
          "plain loop", "%", "issue 15: ≥ 70", _b2_process),
    Bench("b3", "B3 `runwatch run` of a one-task `true` job, whole process", "ms",
          "≤ 300 (issue 15: ≤ 150)", _b3),
    Bench("wrap", "`runwatch wrap --job x -- true` minus bare `true`, medians of 11 "
          "interleaved pairs", "ms", "≤ 80 (issue 15: ≤ 40)", _wrap),
    Bench("width-200", "1 → 200 → 1 in-process no-op tasks: wall time / tasks", "ms",
          "flat within 20 % to 10,000", _width(200),
          warmup=_warm_engine),
    Bench("width-2000", "the same at 2,000 wide", "ms", "flat within 20 %", _width(2000),
          warmup=_warm_engine),
    Bench("width-10000", "the same at 10,000 wide", "ms", "flat within 20 %", _width(10_000),
          slow=True, warmup=_warm_engine),
    Bench("width-workers-200", "1 → 200 → 1 no-op Python tasks in 2 worker processes: wall "
          "time / tasks", "ms", "flat within 20 % to 10,000", _width(200, "python"),
          warmup=_warm_engine),
    Bench("width-workers-2000", "the same at 2,000 wide", "ms", "flat within 20 %",
          _width(2000, "python"), warmup=_warm_engine),
    Bench("width-workers-10000", "the same at 10,000 wide", "ms", "flat within 20 %",
          _width(10_000, "python"), slow=True, warmup=_warm_engine),
    Bench("statements", "SQL statements per attempt (BEGIN and COMMIT included), one run",
          "statements", "fewest", _statements),
    Bench("memory", "peak RSS of `runwatch run` of a 1 → 9,998 → 1 YAML job of Python tasks",
          "MiB", "≤ 150", _memory, slow=True),
    Bench("telemetry-spans", "B1 job with spans (batch processor, dropping exporter), "
          "more wall time than off, median of 3 back-to-back pairs", "%", "≤ 15", _telemetry(1),
          warmup=_warm_engine),
    Bench("telemetry-metrics", "… with spans and metrics scraped every 0.1 s", "%", "≤ 15",
          _telemetry(2), warmup=_warm_engine),
    Bench("alerting-a1", "task failure → HTTP request at a loopback Slack webhook, SQLite, "
          "median of 50", "ms", "≤ 500", _alerting("a1", "polled_median_ms")),
    Bench("alerting-a2", "10,000 events through 50 rules on the SQLite store", "events/s",
          "≥ 20,000", _alerting("a2", "store_events_per_s")),
    Bench("scrape", "`/metrics` of a fresh serve, 1,000 jobs x 10 tasks of history, median of "
          "15", "ms", "≤ 50", _scrape, slow=True),
    Bench("scheduler-lag", "fire time → first task start, a `* * * * * *` job and 20 "
          "every-minute jobs, 65 s of `serve`", "ms", "median ≤ 50, p99 ≤ 250", _lag,
          slow=True),
    Bench("scheduler-idle", "CPU of `serve` with 1,000 jobs next firing in an hour, 65 s",
          "% of a core", "< 1", _idle, slow=True),
    Bench("dashboard", "slowest dashboard page, 1,000 jobs / 1,000,000 attempts seeded "
          "(first call or warm median)", "s", "≤ 1", _dashboard, slow=True),
    Bench("celery", "200 `true` tasks through Celery (Redis, PostgreSQL store), one worker "
          "--concurrency 2; and the local executor, 2 at a time", "attempts/s", "reported",
          _celery, slow=True),
)  # fmt: skip


@dataclass(frozen=True)
class Figure:
    """A measured figure: its benchmark, its label and the summary of its samples."""

    bench: Bench
    label: str
    summary: Summary


def measure(bench: Bench, repeats: int) -> list[Figure]:
    """Run ``bench`` ``repeats`` times (after its warm-up); one figure per number its sample
    returns."""
    if bench.warmup is not None:
        bench.warmup()
    before = load_average()
    samples = [bench.sample() for _ in range(repeats)]
    if all(isinstance(s, Mapping) for s in samples):
        keys = list(samples[0])  # type: ignore[arg-type]
        after = load_average()
        return [
            Figure(bench, f"{bench.name} {key}",
                   Summary(tuple(s[key] for s in samples), before, after))  # type: ignore[index]
            for key in keys
        ]  # fmt: skip
    return [Figure(bench, bench.name, summarize(samples, before))]  # type: ignore[arg-type]


def git(*args: str) -> str:
    """The output of a git command in the repository, or "" when git fails."""
    done = subprocess.run(
        ["git", *args], cwd=BENCH.parent, capture_output=True, text=True, check=False
    )
    return done.stdout.strip() if done.returncode == 0 else ""


def commit() -> str:
    """The commit measured, with "+ uncommitted changes" when the work tree differs."""
    head = git("rev-parse", "--short=10", "HEAD") or "unknown"
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench/README.md")
    return f"{head} + uncommitted changes" if dirty else head


def table(figures: list[Figure], repeats: int, argv: list[str], started: float) -> str:
    """The markdown block written between the markers."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        BEGIN,
        f"Measured {when} on commit `{commit()}` by `bench/run.py {' '.join(argv)}`: "
        f"{machine()}, Python {platform.python_version()}, load average {started:.2f} at "
        f"the start; min / median / max of {repeats} repeats of each figure, load average "
        "before → after that figure.",
        "",
        "| figure | what | unit | target | min | median | max | load |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for figure in figures:
        s, b = figure.summary, figure.bench
        lines.append(
            f"| {figure.label} | {b.what} | {b.unit} | {b.target} | {s.min:.2f} | "
            f"**{s.median:.2f}** | {s.max:.2f} | {s.load_before:.2f} → {s.load_after:.2f} |"
        )
    lines.append(END)
    return "\n".join(lines)


def write(block: str, readme: Path = README) -> None:
    """Replace the table between the markers in ``readme`` (or add it after the
    introduction, before the first section)."""
    text = readme.read_text()
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        head, sep, rest = text.partition("\n## ")
        text = f"{head.rstrip()}\n\n{block}\n\n{sep.lstrip()}{rest}"
    readme.write_text(text)


def chosen(options: argparse.Namespace, parser: argparse.ArgumentParser) -> list[Bench]:
    """The benchmarks named by --only, or the quick set (with --slow: all)."""
    if not options.only:
        return [b for b in BENCHES if options.slow or not b.slow]
    names = [n.strip() for n in options.only.split(",") if n.strip()]
    known = {b.name: b for b in BENCHES}
    unknown = [n for n in names if n not in known]
    if unknown:
        parser.error(f"--only: unknown benchmark {', '.join(unknown)} (known: {', '.join(known)})")
    return [known[n] for n in names]


def main(argv: list[str]) -> int:
    """Run the chosen benchmarks and print (and with --write, record) their figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="samples per figure (default 5)")
    parser.add_argument("--only", help="comma-separated benchmark names (see --list)")
    parser.add_argument("--slow", action="store_true", help="also run the slow benchmarks")
    parser.add_argument("--write", action="store_true", help="record the table in README.md")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    options = parser.parse_args(argv)
    if options.repeats < 1:
        parser.error("--repeats: must be at least 1")
    if options.list:
        for b in BENCHES:
            print(f"{b.name:20} {'(slow) ' if b.slow else ''}{b.what} [{b.unit}]")
        return 0
    benches = chosen(options, parser)
    started = load_average()
    print(f"{machine()}, commit {commit()}, load average {started:.2f}", flush=True)
    figures: list[Figure] = []
    for bench in benches:
        for figure in measure(bench, options.repeats):
            s = figure.summary
            print(f"{figure.label}: {s.spread()} {bench.unit} (min/median/max of "
                  f"{options.repeats}), {s.load()}", flush=True)  # fmt: skip
            figures.append(figure)
    if options.write:
        write(table(figures, options.repeats, argv, started))
        print(f"wrote the table into {README}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
