"""Prefect workloads, run by the Prefect venv's python against its local SQLite API database
(PREFECT_API_DATABASE_CONNECTION_URL; no PREFECT_API_URL, so Prefect serves its API itself).

    python prefect_work.py run|check WORKLOAD WIDTH [RUNS]

run: the flow of WORKLOAD, tasks submitted to the default thread-pool task runner. check:
read the API database: the flow has RUNS flow runs, the latest COMPLETED, with a COMPLETED
task run for every task (``task_runs``: the task-run rows there in any state). Prefect 3
writes task runs through its API's event pipeline; with no API server running, the flow
process serves the API itself and stops it on exit, and the check reports what landed.
Prints one JSON line.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

from verdict import report  # the sibling module: this folder is on sys.path


def run(workload: str, width: int) -> int:
    """Run the flow of ``workload`` at ``width``."""
    from prefect import flow, task

    @task
    def noop() -> None:
        """Nothing."""

    @task
    def true() -> None:
        """The shell command `true`."""
        subprocess.run(["true"], check=True)

    @flow(name=f"{workload}_{width}")
    def workflow() -> None:
        if workload == "w0":
            noop()
        elif workload == "w1":
            first = noop.submit()
            mids = [noop.submit(wait_for=[first]) for _ in range(width)]
            noop.submit(wait_for=mids).result()
        else:
            for future in [true.submit() for _ in range(width)]:
                future.result()

    workflow()
    return 0


def check(workload: str, width: int, runs: int) -> int:
    """Print what the API database holds for the flow."""
    path = os.environ["PREFECT_API_DATABASE_CONNECTION_URL"].split(":///", 1)[1]
    db = sqlite3.connect(path)
    name = f"{workload}_{width}"
    rows = db.execute(
        "SELECT fr.id, fr.state_type FROM flow_run fr JOIN flow f ON f.id = fr.flow_id "
        "WHERE f.name = ? ORDER BY fr.created DESC",
        (name,),
    ).fetchall()
    tasks = records = 0
    if rows:
        (tasks, records) = db.execute(
            "SELECT count(*) FILTER (WHERE state_type = 'COMPLETED'), count(*) FROM task_run "
            "WHERE flow_run_id = ?",
            (rows[0][0],),
        ).fetchone()
    state = rows[0][1] if rows else None
    report(workload, width, runs=runs, found_runs=len(rows), state=state, success="COMPLETED",
           tasks=tasks, task_runs=records)  # fmt: skip
    return 0


if __name__ == "__main__":
    mode, kind, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    sys.exit(run(kind, n) if mode == "run" else check(kind, n, int(sys.argv[4])))
