"""Two builds side by side: the wall time of the same command from each, interleaved.

    python bench/interleave.py [--runs 30] OLD_RUNWATCH NEW_RUNWATCH -- ARGS...

Each RUNWATCH is a console script (e.g. ``venv-old/bin/runwatch`` after a ``pip install``
of a checkout of the commit before a change). ``runwatch ARGS`` runs from each build in
turn, ``--runs`` times (the order alternates every round, so neither build always runs
first), each build with its own fresh RUNWATCH_HOME holding a one-task `true` job as
``jobs.yaml`` (so ``run one --jobs jobs.yaml`` is B3, ``wrap --job x -- true`` is wrap),
after 3 unmeasured runs of each. Prints min / median / max of each (wall time, and the
CPU of the whole process tree), with the load average before and after and the number
of cores. Timing the same pair with ``hyperfine`` runs
each build's samples back to back instead, which a load that changes during the
measurement skews towards one side.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stats import load_average, machine, summarize

WARMUP = 3
JOB = 'jobs:\n  one:\n    command: ["true"]\n'


def sample(script: str, args: list[str], home: Path) -> tuple[float, float]:
    """Milliseconds of one ``script ARGS`` in ``home``: wall time, and the CPU (user +
    system) of its whole process tree: runwatch, its keeper and their commands, each
    reaped by its parent (``RUSAGE_CHILDREN``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RUNWATCH_", "OTEL_"))}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as after `pip install`
    env["RUNWATCH_HOME"] = str(home)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([script, *args], cwd=home, env=env, check=True, capture_output=True)
    wall = (time.perf_counter() - started) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu * 1000


def main(argv: list[str]) -> None:
    """Parse the arguments, run the two builds interleaved, print their summaries."""
    if "--" not in argv:
        sys.exit("usage: interleave.py [--runs N] OLD_RUNWATCH NEW_RUNWATCH -- ARGS...")
    split = argv.index("--")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30, help="samples of each build")
    parser.add_argument("old", help="the runwatch script of the build before")
    parser.add_argument("new", help="the runwatch script of the build after")
    options = parser.parse_args(argv[:split])
    args = argv[split + 1 :]
    with tempfile.TemporaryDirectory() as tmp:
        homes = {options.old: Path(tmp) / "old", options.new: Path(tmp) / "new"}
        for home in homes.values():
            home.mkdir()
            (home / "jobs.yaml").write_text(JOB)
        for script, home in homes.items():
            for _ in range(WARMUP):
                sample(script, args, home)
        before = load_average()
        times: dict[str, list[tuple[float, float]]] = {script: [] for script in homes}
        for round_ in range(options.runs):
            order = list(homes) if round_ % 2 == 0 else list(homes)[::-1]
            for script in order:
                times[script].append(sample(script, args, homes[script]))
    print(f"{machine()}, `runwatch {' '.join(args)}`, {options.runs} interleaved runs each")
    for label, script in (("old", options.old), ("new", options.new)):
        wall = summarize([w for w, _ in times[script]], before)
        cpu = summarize([c for _, c in times[script]], before)
        print(
            f"{label} {script}: {wall.spread(1)} ms (min/median/max), CPU {cpu.spread(1)} ms,"
            f" {wall.load()}"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
