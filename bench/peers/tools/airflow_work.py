"""Airflow workloads, run by the Airflow venv's python with `dag.test()` against the metadata
database of AIRFLOW__DATABASE__SQL_ALCHEMY_CONN (SQLite).

    python airflow_work.py run|check WORKLOAD WIDTH [RUNS]

dag.test() parses the DAG bundle (AIRFLOW__CORE__DAGS_FOLDER) into the database before it
runs, so this file is also the DAG file: a copy sits alone in each workload's DAGs folder
and, imported by Airflow's parser, defines the DAG named by BENCH_AIRFLOW_DAG
(``WORKLOAD_WIDTH``). run: dag.test() of that DAG. check: read the metadata database: the
DAG has RUNS dag runs, the latest `success`, with a `success` task instance for every
task. Prints one JSON line.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import UTC, datetime


def build(workload: str, width: int):
    """The DAG of ``workload`` at ``width``."""
    from airflow.sdk import DAG, task

    @task
    def noop() -> None:
        """Nothing."""

    @task
    def true() -> None:
        """The shell command `true`."""
        subprocess.run(["true"], check=True)

    start = datetime(2026, 1, 1, tzinfo=UTC)
    with DAG(dag_id=f"{workload}_{width}", schedule=None, start_date=start) as dag:
        if workload == "w0":
            noop.override(task_id="only")()
        elif workload == "w1":
            first = noop.override(task_id="first")()
            mids = [noop.override(task_id=f"t{i}")() for i in range(width)]
            last = noop.override(task_id="last")()
            first >> mids >> last
        else:
            for i in range(width):
                true.override(task_id=f"c{i}")()
    return dag


def run(workload: str, width: int) -> int:
    """Run the DAG of ``workload`` at ``width`` with dag.test()."""
    finished = build(workload, width).test(logical_date=datetime.now(UTC))
    return 0 if str(getattr(finished, "state", "")) in ("success", "DagRunState.SUCCESS") else 1


def check(workload: str, width: int, runs: int) -> int:
    """Print what the metadata database holds for the DAG."""
    from verdict import report  # the sibling module; not imported when Airflow parses a copy

    path = os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].split(":///", 1)[1]
    db = sqlite3.connect(path)
    dag_id = f"{workload}_{width}"
    rows = db.execute(
        "SELECT run_id, state FROM dag_run WHERE dag_id = ? ORDER BY id DESC", (dag_id,)
    ).fetchall()
    tasks = 0
    if rows:
        (tasks,) = db.execute(
            "SELECT count(*) FROM task_instance WHERE dag_id = ? AND run_id = ? "
            "AND state = 'success'",
            (dag_id, rows[0][0]),
        ).fetchone()
    state = rows[0][1] if rows else None
    report(workload, width, runs=runs, found_runs=len(rows), state=state, success="success",
           tasks=tasks)  # fmt: skip
    return 0


if __name__ != "__main__" and os.environ.get("BENCH_AIRFLOW_DAG"):
    _workload, _width = os.environ["BENCH_AIRFLOW_DAG"].split("_")
    dag = build(_workload, int(_width))

if __name__ == "__main__":
    mode, kind, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    sys.exit(run(kind, n) if mode == "run" else check(kind, n, int(sys.argv[4])))
