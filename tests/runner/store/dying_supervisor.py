"""A supervisor that starts a run and an attempt, then waits to be killed.

Run as ``python dying_supervisor.py DB_URL``: it records a running attempt whose task is
a ``sleep 60`` in a session of its own (its pid and start time, as executors record
them), prints ``RUN_ID ATTEMPT_ID PID``, and sleeps.
"""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime

from runner.model import Job, Task, Trigger
from runner.processes import process_start
from runner.store.store import Store


def main(url: str) -> None:
    now = datetime.now(UTC)
    job = Job(name="crashy", tasks={t: Task(t, command=("sleep", "60")) for t in ("work", "after")})
    store = Store.open(url)
    run = store.create_run(job, now, Trigger.MANUAL, now)
    assert run is not None
    store.mark_run_started(run, now)
    attempt = store.start_attempt(run, "work", now)
    assert attempt is not None
    child = subprocess.Popen(["sleep", "60"], start_new_session=True)
    store.set_attempt_process(attempt, pid=child.pid, pid_start=process_start(child.pid))
    print(run.id, attempt.id, child.pid, flush=True)
    time.sleep(120)


if __name__ == "__main__":
    main(sys.argv[1])
