"""AttemptThreads: every job on a thread of its own at once, idle threads reused, then ended."""

from __future__ import annotations

import threading
import time

from runner.executors.local.threads import AttemptThreads


def _recording(idents: list[int], done: threading.Event, gate: threading.Event | None = None):
    def job() -> None:
        idents.append(threading.get_ident())
        if gate is not None:
            gate.wait(5)
        done.set()

    return job


def test_a_job_after_another_reuses_the_idle_thread():
    threads = AttemptThreads()
    idents: list[int] = []
    for _ in range(3):
        done = threading.Event()
        threads.run(_recording(idents, done))
        assert done.wait(5)

    assert len(set(idents)) == 1


def test_jobs_running_together_each_get_a_thread():
    threads = AttemptThreads()
    idents: list[int] = []
    gate = threading.Event()
    dones = [threading.Event() for _ in range(4)]
    for done in dones:
        threads.run(_recording(idents, done, gate))

    gate.set()

    assert all(done.wait(5) for done in dones)
    assert len(set(idents)) == 4


def test_idle_threads_end_and_new_jobs_still_run():
    threads = AttemptThreads(idle_seconds=0.05)
    idents: list[int] = []
    done = threading.Event()
    threads.run(_recording(idents, done))
    assert done.wait(5)
    worker = next(t for t in threading.enumerate() if t.ident == idents[0])

    worker.join(2)
    again = threading.Event()
    threads.run(_recording(idents, again))

    assert not worker.is_alive()
    assert again.wait(5)


def test_a_failing_job_is_logged_and_later_jobs_still_run(caplog):
    threads = AttemptThreads()

    def failing() -> None:
        raise RuntimeError("boom")

    threads.run(failing)
    deadline = time.monotonic() + 5
    while "attempt job" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.005)
    done = threading.Event()
    threads.run(_recording([], done))

    assert "RuntimeError: boom" in caplog.text
    assert done.wait(5)
