"""Sensor pokes: is a sensor's condition met yet?

A poke that may block (http, sql, command, python) runs on one of a few poke threads,
never on a worker, and answers on the engine's queue with a ``SensorPoked`` message; a
cheap one (file) is answered at once. Between pokes a sensor holds nothing: no thread,
no worker, no pool slot — only a timer of the engine. The ``job`` condition reads the
store and is answered by the engine itself.
"""

from __future__ import annotations

import glob
import logging
import os
import subprocess
from collections.abc import Mapping
from typing import TYPE_CHECKING

from runner.engine import templates
from runner.engine.executor import MessageQueue, SensorPoked
from runner.model import Sensor, SensorKind
from runner.taskenv import TaskEnvironment

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

logger = logging.getLogger(__name__)

POKE_THREADS = 2
MAX_POKE_SECONDS = 60.0
"""The longest one poke may take (also capped by the sensor's interval)."""

Answer = tuple[bool, str]
"""Whether the condition is met, and what the poke saw (for the poke's event)."""


def file_poke(sensor: Sensor, known: Mapping[str, str]) -> Answer:
    """Ready when the glob matches a path."""
    pattern = templates.render(str(sensor.target), known)
    found = glob.glob(pattern)
    if found:
        return True, f"{len(found)} matching: {sorted(found)[0]}"
    return False, f"nothing matches {pattern}"


def http_poke(sensor: Sensor, known: Mapping[str, str]) -> Answer:
    """Ready when a GET of the URL answers with the sensor's status."""
    import urllib.error  # only sensors that poke a URL pay for it
    import urllib.parse
    import urllib.request

    url = templates.render(str(sensor.target), known, urllib.parse.quote)
    seconds = min(sensor.interval, MAX_POKE_SECONDS)
    try:
        with urllib.request.urlopen(url, timeout=seconds) as response:  # noqa: S310 - http(s) only, checked
            status = int(response.status)
    except urllib.error.HTTPError as exc:
        status = exc.code
        exc.close()
    except (OSError, ValueError) as exc:  # unreachable, refused, timed out
        return False, f"no answer: {type(exc).__name__}"
    return status == sensor.status, f"HTTP {status}"


def sql_poke(sensor: Sensor, known: Mapping[str, str]) -> Answer:
    """Ready when the query returns a row; template values are its bind parameters."""
    from sqlalchemy import create_engine, text  # optional, and slow to import

    assert sensor.db_url is not None
    binds = {name.replace(".", "_"): value for name, value in known.items()}
    engine = create_engine(sensor.db_url)
    try:
        with engine.connect() as connection:
            row = connection.execute(text(str(sensor.target)), binds).first()
    except Exception as exc:  # any driver error: not ready yet; the type, never the URL
        return False, f"query failed: {type(exc).__name__}"
    finally:
        engine.dispose()
    return row is not None, "a row" if row is not None else "no row"


def command_poke(sensor: Sensor, env: Mapping[str, str], known: Mapping[str, str]) -> Answer:
    """Ready when the command exits 0; argv items are rendered, a shell string is not."""
    target = sensor.target
    if isinstance(target, str):
        argv = ["/bin/sh", "-c", target]
    else:
        argv = [templates.render(item, known) for item in target]
    try:
        done = subprocess.run(
            argv,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=min(sensor.interval, MAX_POKE_SECONDS),
            check=False,
            start_new_session=True,
        )
    except subprocess.TimeoutExpired:
        return False, "the command timed out"
    except OSError as exc:
        return False, f"cannot run {argv[0]!r}: {exc.strerror or exc}"
    return done.returncode == 0, f"exit code {done.returncode}"


def python_poke(sensor: Sensor) -> Answer:
    """Ready when the callable returns a true value."""
    try:
        value = sensor.target()
    except Exception as exc:  # user code: a failing poke is a not-yet
        return False, f"raised {type(exc).__name__}"
    return bool(value), f"returned {type(value).__name__}"


def poke_env(known: Mapping[str, str], env: Mapping[str, str]) -> dict[str, str]:
    """The environment of a command poke: runwatch's without its secrets, the run's
    RUNWATCH_* variables, and the logical date as RUNWATCH_DS."""
    task_env = TaskEnvironment.of(os.environ)
    return task_env.for_task((), {**env, "RUNWATCH_DS": known["ds"]})


class Poker:
    """Runs the pokes that may block, a few at a time, answering on ``messages``."""

    def __init__(self, messages: MessageQueue, threads: int = POKE_THREADS) -> None:
        self._messages = messages
        self._threads = threads
        self._pool: ThreadPoolExecutor | None = None

    def poke(
        self,
        run_id: int,
        task: str,
        sensor: Sensor,
        known: Mapping[str, str],
        env: Mapping[str, str],
    ) -> None:
        """Start a poke; its answer arrives as a ``SensorPoked`` message."""
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor  # only runs with sensors

            self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="runwatch-poke")
        future = self._pool.submit(_blocking_poke, sensor, dict(known), dict(env))
        future.add_done_callback(lambda done: self._answer(run_id, task, done))

    def close(self) -> None:
        """Stop the poke threads (a poke under way finishes; its answer is not heard)."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None

    def _answer(self, run_id: int, task: str, done: Future[Answer]) -> None:
        try:
            ready, detail = done.result()
        except Exception as exc:  # a bug in a poke must not leave the sensor waiting forever
            logger.exception("sensor %s of run %s: poke failed", task, run_id)
            ready, detail = False, f"poke failed: {type(exc).__name__}"
        self._messages.put(SensorPoked(run_id, task, ready, detail))


def _blocking_poke(sensor: Sensor, known: dict[str, str], env: dict[str, str]) -> Answer:
    match sensor.kind:
        case SensorKind.HTTP:
            return http_poke(sensor, known)
        case SensorKind.SQL:
            return sql_poke(sensor, known)
        case SensorKind.COMMAND:
            return command_poke(sensor, poke_env(known, env), known)
        case SensorKind.PYTHON:
            return python_poke(sensor)
    raise AssertionError(sensor.kind)


def blocks(sensor: Sensor) -> bool:
    """True when a poke of ``sensor`` may block and so runs on a poke thread."""
    return sensor.kind not in (SensorKind.FILE, SensorKind.JOB)
