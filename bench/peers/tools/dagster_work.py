"""Dagster workloads, run by the Dagster venv's python; the instance lives in DAGSTER_HOME.

    python dagster_work.py run|check WORKLOAD WIDTH [RUNS]

run: builds the job and executes it in process on the persistent instance (SQLite run and
event-log storage in DAGSTER_HOME). check: the job has RUNS runs, the latest succeeded and
its event log holds a STEP_SUCCESS for every op. Prints one JSON line.
"""

from __future__ import annotations

import subprocess
import sys

from dagster import DagsterEventType, DagsterInstance, In, Nothing, RunsFilter, job, op
from dagster._core.storage.dagster_run import DagsterRunStatus
from verdict import report  # the sibling module: this folder is on sys.path


def _noop() -> None:
    """Nothing."""


def _true() -> None:
    """The shell command `true`."""
    subprocess.run(["true"], check=True)


def build(workload: str, width: int):
    """The job of ``workload`` at ``width``."""
    if workload == "w0":
        only = op(name="only")(_noop)

        @job(name="w0")
        def w0() -> None:
            only()

        return w0
    if workload == "w1":
        first = op(name="first")(_noop)
        mids = [op(name=f"t{i}", ins={"start": In(Nothing)})(_noop) for i in range(width)]
        last = op(name="last", ins={"start": In(Nothing)})(_noop)

        @job(name=f"w1_{width}")
        def w1() -> None:
            started = first()
            last(start=[mid(start=started) for mid in mids])

        return w1
    commands = [op(name=f"c{i}")(_true) for i in range(width)]

    @job(name=f"w2_{width}")
    def w2() -> None:
        for command in commands:
            command()

    return w2


def main(argv: list[str]) -> int:
    """Run or check one workload."""
    mode, workload, width = argv[0], argv[1], int(argv[2])
    definition = build(workload, width)
    instance = DagsterInstance.get()
    if mode == "run":
        result = definition.execute_in_process(instance=instance)
        return 0 if result.success else 1
    runs = instance.get_runs(filters=RunsFilter(job_name=definition.name))
    latest = runs[0] if runs else None
    steps = 0
    if latest is not None:
        steps = len(instance.all_logs(latest.run_id, of_type=DagsterEventType.STEP_SUCCESS))
    status = latest.status.value if latest else None
    success = DagsterRunStatus.SUCCESS.value
    report(workload, width, runs=int(argv[3]), found_runs=len(runs), state=status,
           success=success, tasks=steps)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
