"""runwatch workloads: job files for `runwatch run`, and the check of its SQLite store.

    python runwatch_work.py setup STATE
    python runwatch_work.py check WORKLOAD WIDTH RUNS   (RUNWATCH_HOME set)

setup writes STATE/jobs/: w0 and w1 as Python job files written as the README shows
(``@task`` functions), w2 as YAML command tasks. The timed run is the console script:
`runwatch run w1_200 --jobs STATE/jobs/w1_200.py`. check: the store holds RUNS runs of the
job, the latest `success`, with a successful attempt of every task. Prints one JSON line.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path

from verdict import report  # the sibling module: this folder is on sys.path

PYTHON_JOB = '''from runner import job, task


@task
def noop() -> None:
    """Nothing."""


@job(name="{name}")
def workload() -> None:
    """{what}"""
{body}
'''
W0_BODY = '    noop.with_options(name="only")()'
W1_BODY = """    first = noop.with_options(name="first")()
    mids = [noop.with_options(name=f"t{{i}}", after=[first])() for i in range({width})]
    noop.with_options(name="last", after=mids)()"""


def setup(state: Path) -> None:
    """Write the job files of every workload into ``state``/jobs."""
    jobs = state / "jobs"
    jobs.mkdir(parents=True, exist_ok=True)
    (jobs / "w0_1.py").write_text(
        PYTHON_JOB.format(name="w0_1", what="One no-op task.", body=W0_BODY)
    )
    for width in (10, 200):
        body = W1_BODY.format(width=width)
        what = f"1 -> {width} -> 1 no-op tasks."
        (jobs / f"w1_{width}.py").write_text(
            PYTHON_JOB.format(name=f"w1_{width}", what=what, body=body)
        )
    lines = ["jobs:", "  w2_200:", "    tasks:"]
    for i in range(200):
        lines += [f"      c{i}:", "        command: ['true']"]
    (jobs / "w2_200.yaml").write_text("\n".join(lines) + "\n")


def check(workload: str, width: int, runs: int) -> None:
    """Print what the store holds for the job."""
    db = sqlite3.connect(Path(os.environ["RUNWATCH_HOME"]) / "runwatch.db")
    name = f"{workload}_{width}"
    rows = db.execute("SELECT id, state FROM runs WHERE job = ? ORDER BY id DESC", (name,))
    found = rows.fetchall()
    tasks = 0
    if found:
        (tasks,) = db.execute(
            "SELECT count(DISTINCT task) FROM attempts WHERE run_id = ? AND state = 'success'",
            (found[0][0],),
        ).fetchone()
    state = found[0][1] if found else None
    report(workload, width, runs=runs, found_runs=len(found), state=state, success="success",
           tasks=tasks)  # fmt: skip


if __name__ == "__main__":
    if sys.argv[1] == "setup":
        setup(Path(sys.argv[2]))
    else:
        check(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
