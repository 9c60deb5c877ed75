"""A command's status file outlives the news of its end until the engine has committed the
outcome: a scheduler killed in between leaves recovery the file that says how the command
ended (and that it ran), not an attempt with no trace of its command, to be run again."""

from __future__ import annotations

import queue
import threading
from pathlib import Path

from runner import exitstatus
from runner.clock import utcnow
from runner.engine.engine import Engine
from runner.engine.executor import AttemptFinished, Message
from runner.executors.local.executor import LocalExecutor
from runner.model import RunState, Trigger
from runner.store.store import Store
from tests.runner.engine.conftest import job, sh


class _Watched(queue.SimpleQueue[Message]):
    """The engine's queue, telling the test when an attempt's end has been put on it."""

    def __init__(self) -> None:
        super().__init__()
        self.finished = threading.Event()

    def put(self, item: Message, block: bool = True, timeout: float | None = None) -> None:
        super().put(item, block, timeout)
        if isinstance(item, AttemptFinished):
            self.finished.set()


def test_the_status_file_is_removed_only_once_the_outcome_is_committed(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path}/runwatch.db")
    messages = _Watched()
    engine = Engine(store, LocalExecutor(messages), messages, log_dir=tmp_path / "logs")
    definition = job(sh("once", "exit 3"))
    try:
        now = utcnow()
        store.sync_jobs([definition], now)
        run = store.create_run(definition, now, Trigger.MANUAL, now)
        assert run is not None
        assert engine.start(definition, run)  # launches the command; no turn taken yet
        assert messages.finished.wait(30), "the command's end was never heard"
        [attempt] = store.attempts(run.id)
        assert attempt.state.value == "running"  # heard, not yet committed
        assert attempt.stdout_path is not None
        path = exitstatus.status_path(attempt.stdout_path)
        status = exitstatus.read_status(path)
        assert status is not None  # what recovery would read now
        assert status.exit_code == 3
        while run.id in engine.running_runs:
            engine.step()
        assert store.get_run(run.id).state is RunState.FAILED
        [attempt] = store.attempts(run.id)
        assert attempt.exit_code == 3
        assert not Path(path).exists()  # the store tells now
    finally:
        engine.close()
        store.close()
