"""Daemon threads for attempts, reused when idle, so the engine never waits for one to start.

``Thread.start`` blocks until the new thread runs, which costs the engine thread a context
switch per attempt; handing work to a thread that is already waiting does not.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)


class AttemptThreads:
    """Runs each job on a thread of its own at once: an idle one if any, else a new one.

    Threads are daemons (an attempt never holds up the interpreter's exit) and end after
    ``idle_seconds`` without work.
    """

    def __init__(self, *, idle_seconds: float = 60.0) -> None:
        self._idle_seconds = idle_seconds
        self._lock = threading.Lock()
        self._jobs: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._idle = 0
        """Threads waiting for a job, minus the jobs queued for them."""
        self._names = itertools.count(1)

    def run(self, job: Callable[[], None]) -> None:
        """Start ``job`` on a thread now; raises RuntimeError only if no thread can be made."""
        with self._lock:
            if self._idle:
                self._idle -= 1
                self._jobs.put(job)
                return
        name = f"runwatch-attempt-thread-{next(self._names)}"
        threading.Thread(target=self._work, args=(job,), name=name, daemon=True).start()

    def _work(self, job: Callable[[], None] | None) -> None:
        while job is not None:
            try:
                job()
            except BaseException:  # jobs report their own failures; this is a last resort
                logger.exception("attempt job %r failed", job)
            with self._lock:
                self._idle += 1
            job = self._next()

    def _next(self) -> Callable[[], None] | None:
        """The next job, or None when idle long enough to end."""
        while True:
            try:
                return self._jobs.get(timeout=self._idle_seconds)
            except queue.Empty:
                with self._lock:
                    try:
                        return self._jobs.get_nowait()
                    except queue.Empty:
                        # Nothing came: leave. Every waiting thread is counted (less the
                        # jobs queued), and none is queued, so the count includes us.
                        self._idle -= 1
                        return None
