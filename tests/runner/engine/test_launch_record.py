"""When the engine writes a command's process to the store: a launch its keeper traced in
the status file waits for the attempt's end (one statement for both), or for
``LAUNCH_RECORD_SECONDS`` while the command runs on; recovery reads the status file
meanwhile (tests/faults/test_spawn_window.py)."""

from __future__ import annotations

import threading
import time

from runner import processes
from runner.clock import utcnow
from runner.model import RunState, Trigger
from runner.store.store import Store
from tests.runner.engine.conftest import Harness, job, sh


def test_a_short_commands_process_is_written_with_its_end(harness: Harness) -> None:
    pidfile = harness.tmp / "pid"
    final = harness.run(job(sh("quick", f"echo $$ > {pidfile}")))
    assert final.state is RunState.SUCCESS
    [attempt] = harness.attempts(final, "quick")
    assert attempt.pid == int(pidfile.read_text())


def test_a_long_commands_process_is_in_the_store_while_it_runs(harness: Harness) -> None:
    pidfile, release = harness.tmp / "pid", harness.tmp / "release"
    definition = job(
        sh("long", f"echo $$ > {pidfile}; while [ ! -e {release} ]; do sleep 0.02; done")
    )
    now = utcnow()
    run = harness.store.create_run(definition, now, Trigger.MANUAL, now)
    assert run is not None
    engine = threading.Thread(target=harness.engine.execute, args=(definition, run))
    engine.start()
    reader = Store.open(f"sqlite:///{harness.tmp}/runwatch.db")  # as another process reads
    try:
        deadline = time.monotonic() + 30
        while True:
            [attempt] = reader.attempts(run.id) or [None]
            if attempt is not None and attempt.pid is not None:
                break
            assert time.monotonic() < deadline, "the running command's pid was never written"
            time.sleep(0.02)
        assert not release.exists()  # still running: written before its end
        assert attempt.pid == int(pidfile.read_text())
        assert attempt.pid_start == processes.process_start(attempt.pid)
    finally:
        release.touch()
        engine.join(30)
        reader.close()
    assert harness.store.get_run(run.id).state is RunState.SUCCESS
