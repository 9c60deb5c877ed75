"""Where the start and the end of a `runwatch run` go (issue 15): garbage collection, the
interpreter's teardown, and parsing the command line.

    python bench/start_bench.py [--tasks 1] [--repeats 9]

Each sample is a fresh `python` process running `runwatch run` of a job of ``--tasks``
independent `true` commands in a fresh home (after one unmeasured run has made its
store), in one of two ways, alternating:

- *as installed*: ``runner.cli.main.main()`` as the console script calls it, which
  pauses the collector while the modules load and ends the process with ``os._exit``
  once the atexit handlers have run (runner/cli/startup_gc.py, runner/cli/process_exit.py);
- *plain*: ``main(argv)`` as an in-process caller does: the collector left on, and the
  interpreter torn down after ``main`` returns.

Printed for each: the process's wall time, the milliseconds the collector ran
(``gc.callbacks``), and for *plain* the milliseconds from ``main``'s return to the
process's end (the teardown *as installed* skips). Then, each in a fresh process after
the imports, the milliseconds to parse ``run one --jobs jobs.yaml`` with the command's
own grammar (``parse_arguments``) and with the whole one (``build_parser``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stats import load_average, machine, summarize

PROBE = """
import gc, os, sys, time
spent = [0.0]
began = {}
def collected(phase, info):
    if phase == "start":
        began["at"] = time.perf_counter()
    else:
        spent[0] += time.perf_counter() - began["at"]
gc.callbacks.append(collected)
way, words = sys.argv[1], sys.argv[2:]
import runner.cli.main as cli
def report(returned):
    print(f"{spent[0] * 1000:.3f} {returned:.6f}", file=sys.stderr, flush=True)
if way == "installed":
    real_exit = os._exit
    def exit_now(status):
        report(time.time())
        real_exit(status)
    os._exit = exit_now
    sys.argv = ["runwatch", *words]
    cli.main()
else:
    cli.main(words)
    report(time.time())
"""

PARSE = """
import sys, time
import argparse, dataclasses, functools
from runner.cli import parser
words = ["run", "one", "--jobs", "jobs.yaml"]
started = time.perf_counter()
parser.parse_arguments(words) if sys.argv[1] == "own" else parser.build_parser().parse_args(words)
print(f"{(time.perf_counter() - started) * 1000:.3f}")
"""


def _environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNWATCH_", "OTEL_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as after `pip install`
    env["RUNWATCH_HOME"] = str(home)
    return env


def run_sample(way: str, home: Path) -> tuple[float, float, float]:
    """One `runwatch run` the given ``way``: wall ms, collector ms, ms after ``main``."""
    words = ["run", "many", "--jobs", str(home / "jobs.yaml")]
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", PROBE, way, *words],
        env=_environment(home), capture_output=True, text=True, check=True,
    )  # fmt: skip
    ended = time.time()
    wall = (time.perf_counter() - started) * 1000
    collector, returned = (float(v) for v in done.stderr.split()[-2:])
    return wall, collector, (ended - returned) * 1000


def parse_sample(grammar: str, home: Path) -> float:
    """Milliseconds to parse the command line with ``grammar`` ("own" or "whole")."""
    done = subprocess.run(
        [sys.executable, "-c", PARSE, grammar],
        env=_environment(home), capture_output=True, text=True, check=True,
    )  # fmt: skip
    return float(done.stdout)


def main(argv: list[str]) -> None:
    """Take the samples and print their summaries."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1, help="`true` commands in the job")
    parser.add_argument("--repeats", type=int, default=9, help="samples of each way")
    options = parser.parse_args(argv)
    tasks = "".join(f'      t{i}:\n        command: ["true"]\n' for i in range(options.tasks))
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        (home / "jobs.yaml").write_text(f"jobs:\n  many:\n    tasks:\n{tasks}")
        run_sample("installed", home)  # makes the store
        before = load_average()
        runs: dict[str, list[tuple[float, float, float]]] = {"installed": [], "plain": []}
        parses: dict[str, list[float]] = {"own": [], "whole": []}
        for round_ in range(options.repeats):
            ways = ["installed", "plain"] if round_ % 2 == 0 else ["plain", "installed"]
            for way in ways:
                runs[way].append(run_sample(way, home))
            for grammar in ("own", "whole"):
                parses[grammar].append(parse_sample(grammar, home))
    print(f"{machine()}, `runwatch run` of {options.tasks} `true`, {options.repeats} each")
    for way, samples in runs.items():
        wall = summarize([s[0] for s in samples], before)
        collector = summarize([s[1] for s in samples], before)
        line = f"{way}: wall {wall.spread(1)} ms, collector {collector.spread(1)} ms"
        if way == "plain":
            line += f", after main {summarize([s[2] for s in samples], before).spread(1)} ms"
        print(f"{line} (min/median/max), {wall.load()}")
    for grammar, values in parses.items():
        parse = summarize(values, before)
        print(f"parse, {grammar} grammar: {parse.spread(2)} ms (min/median/max), {parse.load()}")


if __name__ == "__main__":
    main(sys.argv[1:])
