"""Python attempts run in a thread of this process (``in_process=True``) and their output."""

from __future__ import annotations

import logging
import os
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any, TextIO

from runner.engine import outcome
from runner.engine.executor import AttemptFinished, AttemptLaunched, AttemptSpec, MessageQueue
from runner.executors.local.capture import StreamCapture, attempt_captures
from runner.executors.local.pycall import CallOutcome, call_task
from runner.model import TaskState

logger = logging.getLogger(__name__)


class _Route:
    def __init__(self, out: StreamCapture, err: StreamCapture) -> None:
        self.captures = (out, err)
        self.closed = False


class OutputRouter:
    """Replaces ``sys.stdout`` and ``sys.stderr`` with proxies that send what a routed thread
    writes to its attempt's captures, and what any other thread writes where it went before.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._routes: dict[int, _Route] = {}
        self._originals: tuple[TextIO, TextIO] | None = None
        self._proxies: tuple[_RoutedStream, _RoutedStream] | None = None

    def install(self) -> None:
        """Put the proxies in place; idempotent."""
        with self._lock:
            if self._proxies is not None:
                return
            self._originals = (sys.stdout, sys.stderr)
            self._proxies = (_RoutedStream(self, 0, sys.stdout), _RoutedStream(self, 1, sys.stderr))
            sys.stdout, sys.stderr = self._proxies

    def uninstall(self) -> None:
        """Put back the streams found at ``install``, unless someone replaced ours since."""
        with self._lock:
            if self._proxies is None or self._originals is None:
                return
            if sys.stdout is self._proxies[0]:
                sys.stdout = self._originals[0]
            if sys.stderr is self._proxies[1]:
                sys.stderr = self._originals[1]
            self._proxies = self._originals = None

    def route(self, out: StreamCapture, err: StreamCapture) -> _Route:
        """Send what the calling thread writes to these captures, until ``unroute``."""
        route = _Route(out, err)
        self._routes[threading.get_ident()] = route
        return route

    def unroute(self) -> None:
        """The calling thread writes where other threads do again."""
        self._routes.pop(threading.get_ident(), None)

    def close(self, route: _Route) -> None:
        """Close the route's captures; what its thread writes from now on is discarded."""
        with self._lock:
            route.closed = True
            for capture in route.captures:
                capture.close()

    def write(self, index: int, text: str) -> bool:
        """Route ``text`` written by the calling thread; False if the thread is not routed."""
        route = self._routes.get(threading.get_ident())
        if route is None:
            return False
        with self._lock:
            if not route.closed:
                route.captures[index].write(text.encode("utf-8", errors="backslashreplace"))
        return True


class _RoutedStream:
    """Stands in for ``sys.stdout`` or ``sys.stderr``."""

    def __init__(self, router: OutputRouter, index: int, original: TextIO) -> None:
        self._router = router
        self._index = index
        self._original = original

    def write(self, text: str) -> int:
        if not self._router.write(self._index, text):
            return self._original.write(text)
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._original.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)


class InProcessAttempt:
    """A Python attempt run in a thread of this process, with no isolation.

    ``spec.env`` and ``task.cwd`` are not applied: they are process-wide, and other threads
    run here. The trace context of ``TRACEPARENT`` is (it is per thread). Only what the
    attempt's own thread writes to ``sys.stdout``/``sys.stderr`` is captured, not what its
    child threads or C code write. A thread cannot be killed: ``stop`` (time_out or cancel)
    reports the attempt at once and abandons the thread; its later output is discarded and
    its result ignored.
    """

    def __init__(
        self,
        spec: AttemptSpec,
        messages: MessageQueue,
        on_done: Callable[[int], None],
        router: OutputRouter,
    ) -> None:
        self.spec = spec
        self._messages = messages
        self._on_done = on_done
        self._router = router
        self._lock = threading.Lock()
        self._finished = False
        self._out, self._err = attempt_captures(spec)
        self._route: _Route | None = None

    def launch(self) -> None:
        """Report the attempt launched, in this process; before ``run`` is handed a thread."""
        self._messages.put(AttemptLaunched(self.spec.key, os.getpid()))

    def request_stop(self, state: TaskState, reason: str) -> None:
        """Report the attempt as ``state`` now and abandon its thread."""
        self._finish(outcome.stopped(self.spec.key, state, reason, None))

    def run(self) -> None:
        """Call the task and report; on a thread of its own, which ``request_stop`` abandons."""
        spec = self.spec
        task = spec.task
        try:
            self._route = self._router.route(self._out, self._err)
            assert task.python is not None
            result = call_task(
                task.name,
                task.python,
                task.args,
                task.kwargs,
                upstream_results=spec.upstream_results,
                env=spec.env,
            )
            if result.state is TaskState.FAILED and result.error is None:
                result = CallOutcome(
                    result.state, result.exit_code, self._err.tail(), result.reason
                )
            self._finish(result.finished(spec.key))
        except BaseException as exc:  # the engine must hear of every attempt, whatever broke
            logger.exception("attempt %d of task %r failed in runwatch", spec.key, task.name)
            self._finish(outcome.internal_error(spec.key, exc))
        finally:
            self._router.unroute()

    def _finish(self, message: AttemptFinished) -> None:
        with self._lock:
            if self._finished:
                return
            self._finished = True
        if self._route is not None:
            self._router.close(self._route)
        else:
            self._out.close()
            self._err.close()
        self._on_done(self.spec.key)
        self._messages.put(message)
