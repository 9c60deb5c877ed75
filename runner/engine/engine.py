"""The engine: a single-threaded loop that drives runs through their task graphs.

Each turn of the loop handles what the executor reported, fires due timers (task
timeouts, retry delays, run timeouts), starts the tasks that are ready, and ends the
runs that are done — all inside one store transaction, so a turn costs one commit.
It then blocks on the executor's queue until the next message or timer.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import logging
import queue
import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from runner import exitstatus, processes
from runner.clock import Clock, utcnow
from runner.engine import branching, mapping, sensing, templates
from runner.engine.dag import Graph, ReadyQueue, TaskStates, Verdict
from runner.engine.executor import (
    DEFAULT_LOG_CAP_BYTES,
    AttemptFinished,
    AttemptLaunched,
    AttemptSpec,
    CancelRequested,
    Executor,
    MessageQueue,
    SensorPoked,
)
from runner.engine.limits import check_durations
from runner.engine.observer import NullObserver, RunObserver
from runner.errors import DefinitionError, RunLostError, StoreError
from runner.model import (
    Job,
    OnTimeout,
    RunState,
    Sensor,
    SensorKind,
    TaskState,
    instance_name,
    logical_task,
)
from runner.store.records import AttemptRecord, RunRecord, TaskRunRecord
from runner.store.store import Store
from runner.taskenv import TaskEnvironment

logger = logging.getLogger(__name__)

POOL_POLL_SECONDS = 0.5
"""How often to look for a free pool slot held by another process."""
CANCEL_POLL_SECONDS = 2.0
"""How often, while runs are active, to look for a cancel asked from the dashboard."""
LAUNCH_RECORD_SECONDS = 0.2
"""How long the process of a launch heard as ``traced`` may wait to be written to the
store: with the attempt's end when that comes first (a short command costs no turn and no
statement of its own), by a timer otherwise; recovery reads it meanwhile where its
starter recorded it (the keeper's status file)."""


@dataclass(frozen=True)
class Progress:
    """A task changed state; for live displays."""

    run_id: int
    job: str
    task: str
    state: TaskState
    attempt: int
    at: datetime


@dataclass
class _ActiveRun:
    job: Job
    graph: Graph
    run: RunRecord
    states: TaskStates
    results: dict[str, Any]
    ready: ReadyQueue
    env: dict[str, str]
    """``run_env``: the variables every attempt of the run gets."""
    tries: dict[str, int] = field(default_factory=dict)
    running: dict[str, AttemptRecord] = field(default_factory=dict)
    stop_reason: str | None = None
    stop_state: RunState | None = None
    mapped: dict[str, mapping.Expansion] = field(default_factory=dict)
    """The instances of the mapped tasks expanded so far, by task."""
    sensing: dict[str, datetime] = field(default_factory=dict)
    """The sensor tasks waiting for their condition, with their deadlines."""

    def failed_tasks(self) -> list[str]:
        return [n for n in self.graph.order if self.states[n].failed]

    def set_state(self, name: str, state: TaskState) -> None:
        """Change the state of a task, or of an instance of a mapped task."""
        index = mapping.index_of(name)
        if index is None:
            self.states.set(name, state)
        else:
            self.mapped[logical_task(name)].set(index, state)

    @property
    def retrying(self) -> bool:
        """True while a task or an instance waits for its retry, or a sensor for its poke."""
        return (
            bool(self.states.retrying)
            or bool(self.sensing)
            or any(e.retrying for e in self.mapped.values())
        )


def _span_id(traceparent: str | None) -> str | None:
    """The parent span id of a W3C traceparent (``00-<trace>-<span>-<flags>``)."""
    parts = (traceparent or "").split("-")
    return parts[2] if len(parts) == 4 and len(parts[2]) == 16 else None


def backoff_delay(
    task_retry_delay: float, max_delay: float, retry: int, rng: random.Random
) -> float:
    """Seconds before retry number ``retry`` (1-based): exponential, capped, equal jitter."""
    # Past 2**64 the cap applies anyway; a larger power overflows a float (1,025 retries).
    full = min(max_delay, task_retry_delay * 2.0 ** min(retry - 1, 64))
    return full / 2 + rng.uniform(0, full / 2)


def run_env(job: Job, run: RunRecord) -> dict[str, str]:
    """The RUNWATCH_* variables every attempt of a run shares, parameters included (never
    interpolated)."""
    env = {
        "RUNWATCH_JOB": job.name,
        "RUNWATCH_RUN_ID": str(run.id),
        "RUNWATCH_LOGICAL_TIME": run.logical_time.isoformat(),
    }
    params = {**job.params, **run.params}
    env.update({f"RUNWATCH_PARAM_{k.upper()}": v for k, v in params.items()})
    return env


def attempt_env(
    job: Job, run: RunRecord, task: str, number: int, shared: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The RUNWATCH_* variables of an attempt: ``shared`` (``run_env``'s, computed here when
    not given) and the task's name and attempt number."""
    env = dict(run_env(job, run) if shared is None else shared)
    env["RUNWATCH_TASK"] = task
    env["RUNWATCH_ATTEMPT"] = str(number)
    return env


def tasks_to_resume(job: Job, rows: Mapping[str, TaskRunRecord]) -> list[str]:
    """Tasks of an orphaned run to run again: unfinished or failed ones with retries left."""
    return [
        name
        for name, task in job.tasks.items()
        if name not in rows
        or (
            (not rows[name].state.finished or rows[name].state.failed)
            and rows[name].attempts <= task.retries
        )
    ]


def check_pools(job: Job, pools: Mapping[str, int]) -> None:
    """Raise DefinitionError when a task names a pool that no configuration defines."""
    for task in job.tasks.values():
        if task.pool is not None and task.pool not in pools:
            raise DefinitionError(
                f"{job.source}: job {job.name!r}, task {task.name!r}, key 'pool': "
                f"pool {task.pool!r} is not defined (pools: {', '.join(pools) or 'none'})"
            )


class Engine:
    """Executes runs: start them with ``start`` and drive them with ``step``/``wait``."""

    def __init__(
        self,
        store: Store,
        executor: Executor,
        messages: MessageQueue,
        *,
        log_dir: Path | None,
        pools: Mapping[str, int] | None = None,
        workers: int = 8,
        log_cap_bytes: int = DEFAULT_LOG_CAP_BYTES,
        clock: Clock = utcnow,
        observer: RunObserver | None = None,
        progress: Callable[[list[Progress]], None] | None = None,
        rng: random.Random | None = None,
        task_environment: TaskEnvironment | None = None,
    ) -> None:
        self.store = store
        self.executor = executor
        self.messages = messages
        self.log_dir = log_dir
        self.pools = dict(pools or {})
        self.workers = workers
        self.log_cap_bytes = log_cap_bytes
        self.clock = clock
        self.observer = observer or NullObserver()
        self.progress = progress
        self.rng = rng or random.Random()
        self._runs: dict[int, _ActiveRun] = {}
        self._by_key: dict[int, tuple[_ActiveRun, AttemptRecord]] = {}
        self._timers: list[tuple[datetime, int, str, int, str]] = []
        self._seq = itertools.count()
        self._waiting_for_pool = False
        self._poker = sensing.Poker(messages, task_environment)
        self._polling_cancels = False
        self._progressed: list[Progress] = []  # this turn's, shown once it is committed
        self._told: list[str] = []  # this turn's status files, removed once it is committed
        self._traced: dict[int, AttemptLaunched] = {}  # launches to write with their ends
        self._recording_traced = False  # the "launches" timer is set
        self.finished: list[RunRecord] = []

    # -- public -------------------------------------------------------------------

    @property
    def active(self) -> bool:
        """True while any run is being executed."""
        return bool(self._runs)

    @property
    def running_runs(self) -> list[int]:
        """Ids of the runs being executed."""
        return list(self._runs)

    def start(
        self, job: Job, run: RunRecord, *, rerun: Iterable[str] = (), keep_budget: bool = False
    ) -> bool:
        """Begin (or resume) executing ``run`` of ``job``; ``rerun`` tasks run again.

        A rerun task gets its full retry budget again, unless ``keep_budget`` (resuming
        after a crash): then the attempts it already had count against its retries.
        Returns False, doing nothing, when another process has claimed the run.
        """
        check_pools(job, self.pools)
        check_durations(job)
        graph = Graph(job)
        now = self.clock()
        self._progressed = []
        with self.store.turn():
            rerun = list(rerun)
            known = self.store.task_runs(run.id)
            missing = [t for t in job.tasks if t not in known]
            if missing:
                self.store.add_task_rows(run, job, missing, now)
            if rerun or run.state is not RunState.QUEUED:
                self.store.prepare_rerun(run, rerun, now)
            if not self.store.mark_run_started(run, now):
                logger.warning(
                    "run %s of %s is claimed by another process; not started",
                    run.id,
                    job.name,
                    extra={"job": job.name, "run_id": run.id},
                )
                return False
            run = self.store.get_run(run.id)
            trace_id = self.observer.run_started(job, run)
            if trace_id is not None:
                self.store.set_trace_id(run.id, trace_id)
                run = dataclasses.replace(run, trace_id=trace_id)
            rows = self.store.task_runs(run.id)
            states = {t: rows[t].state if t in rows else TaskState.PENDING for t in job.tasks}
            # A task left mid-flight by a dead process starts again.
            for name, state in states.items():
                if not state.finished:
                    states[name] = TaskState.PENDING
            results = self.store.results(run.id)
            mapping.mapped_results(job, {n: r.state for n, r in rows.items()}, results)
            active = _ActiveRun(
                job,
                graph,
                run,
                graph.track(states),
                results,
                ReadyQueue(mapping.InstanceRank(graph.rank)),
                run_env(job, run),
            )
            if keep_budget:  # instances of mapped tasks too
                active.tries = {
                    t: r.attempts for t, r in rows.items() if logical_task(t) in job.tasks
                }
            if not self._polling_cancels:
                self._polling_cancels = True
                self._add_timer(now + timedelta(seconds=CANCEL_POLL_SECONDS), "cancel_poll", 0)
            self._runs[run.id] = active
            try:
                if job.timeout is not None:
                    self._add_timer(now + timedelta(seconds=job.timeout), "run_timeout", run.id)
                self._settle(active, None, now)
                self._dispatch(now)
            except BaseException:
                # The transaction is rolled back: forget the run so it can be failed.
                del self._runs[run.id]
                raise
            self._finish_runs(now)
        self._show_progress()
        return True

    def cancel(self, reason: str, run_id: int | None = None) -> None:
        """Cancel one run or all; safe from signal handlers and other threads."""
        self.messages.put(CancelRequested(reason, run_id))

    def step(self, timeout: float | None = None) -> None:
        """One turn: wait up to ``timeout`` (or the next timer) for news, then act on it."""
        wait = self._wait_seconds(timeout)
        try:
            batch = [
                self.messages.get(timeout=wait)
                if wait is None or wait > 0
                else self.messages.get_nowait()
            ]
        except queue.Empty:
            batch = []
        while True:
            try:
                batch.append(self.messages.get_nowait())
            except queue.Empty:
                break
        now = self.clock()
        news = [message for message in batch if not self._held(message, now)]
        if batch and not news:
            return  # only traced launches: nothing to write or decide yet
        # A launch heard together with its attempt's end is recorded with the end.
        ended = {m.key for m in news if isinstance(m, AttemptFinished)}
        launches = {m.key: m for m in news if isinstance(m, AttemptLaunched) and m.key in ended}
        self._progressed, self._told = [], []
        with self.store.turn():
            for message in news:
                if isinstance(message, AttemptFinished):
                    launch = launches.get(message.key) or self._traced.pop(message.key, None)
                    self._attempt_finished(message, now, launch)
                elif not (isinstance(message, AttemptLaunched) and message.key in launches):
                    self._handle(message, now)
            self._fire_timers(now)
            self._dispatch(now)
            self._finish_runs(now)
        self._discard_told()
        self._show_progress()

    def close(self) -> None:
        """Stop the executor's workers and flush telemetry."""
        self._poker.close()
        self.executor.shutdown()
        self.observer.close()

    def run_until_done(self) -> list[RunRecord]:
        """Step until every started run has finished; return the finished runs."""
        while self._runs:
            self.step()
        return self.finished

    def execute(
        self, job: Job, run: RunRecord, *, rerun: Iterable[str] = (), keep_budget: bool = False
    ) -> RunRecord:
        """Run one run to its end and return its final record."""
        if not self.start(job, run, rerun=rerun, keep_budget=keep_budget):
            raise StoreError(f"run {run.id} of {job.name!r} is claimed by another process")
        while run.id in self._runs:
            self.step()
        return self.store.get_run(run.id)

    # -- messages -----------------------------------------------------------------

    def _held(self, message: object, now: datetime) -> bool:
        """Hold a ``traced`` launch to be written with its attempt's end, or by the
        "launches" timer ``LAUNCH_RECORD_SECONDS`` from now; True when held."""
        if not (isinstance(message, AttemptLaunched) and message.traced):
            return False
        self._traced[message.key] = message
        if not self._recording_traced:
            self._recording_traced = True
            self._add_timer(now + timedelta(seconds=LAUNCH_RECORD_SECONDS), "launches", 0)
        return True

    def _record_traced(self, now: datetime) -> None:
        """Write the held launches of the attempts still running (the "launches" timer)."""
        held, self._traced = self._traced, {}
        self._recording_traced = False
        for launch in held.values():
            self._handle(launch, now)

    def _handle(self, message: object, now: datetime) -> None:
        if isinstance(message, AttemptLaunched):
            entry = self._by_key.get(message.key)
            if entry is not None:
                self.store.set_attempt_process(
                    entry[1], pid=message.pid, pid_start=message.pid_start
                )
        elif isinstance(message, SensorPoked):
            active = self._runs.get(message.run_id)
            if active is not None and message.task in active.sensing:
                self._poked(active, message.task, message.ready, message.detail, now)
        elif isinstance(message, CancelRequested):
            for active in list(self._runs.values()):
                if message.run_id in (None, active.run.id):
                    self._stop(active, RunState.CANCELLED, message.reason, now)

    def _attempt_finished(
        self, outcome: AttemptFinished, now: datetime, launch: AttemptLaunched | None = None
    ) -> None:
        if outcome.status_file is not None:
            self._told.append(outcome.status_file)
        entry = self._by_key.pop(outcome.key, None)
        if entry is None:
            logger.warning("outcome for unknown attempt %s ignored", outcome.key)
            return
        active, attempt = entry
        task = active.job.tasks[logical_task(attempt.task)]
        del active.running[attempt.task]
        index = mapping.index_of(attempt.task)
        branch = None
        if index is None:
            outcome, branch = branching.checked(task, outcome, active.graph.downstream[task.name])
        state = outcome.state
        if active.stop_state is RunState.FAILED and state is TaskState.CANCELLED:
            state = TaskState.TIMED_OUT  # killed because the run timed out
        retry = (
            state in (TaskState.FAILED, TaskState.TIMED_OUT)
            and active.stop_reason is None
            and active.tries.get(attempt.task, 0) <= task.retries
        )
        recorded = self.store.finish_attempt(
            attempt,
            state,
            now,
            exit_code=outcome.exit_code,
            signal=outcome.signal,
            error=outcome.error,
            reason=outcome.reason,
            result=outcome.result,
            will_retry=retry,
            process=None if launch is None else (launch.pid, launch.pid_start),
        )
        if not recorded and self._lost(active):
            return
        told = outcome if outcome.state is state else dataclasses.replace(outcome, state=state)
        self.observer.attempt_finished(attempt, told)
        if state is TaskState.SUCCESS and outcome.result is not None:
            active.results[attempt.task] = outcome.result
        if retry:
            active.set_state(attempt.task, TaskState.RETRYING)
            delay = backoff_delay(
                task.retry_delay, task.max_retry_delay, active.tries[attempt.task], self.rng
            )
            self._add_timer(now + timedelta(seconds=delay), "retry", active.run.id, attempt.task)
            self._report(active, attempt.task, TaskState.RETRYING, attempt.number, now)
            return
        active.set_state(attempt.task, state)
        self._report(active, attempt.task, state, attempt.number, now)
        if index is not None:
            expansion = active.mapped[task.name]
            expansion.results[index] = active.results.get(attempt.task)
            if not expansion.unfinished:
                self._mapped_ended(active, task.name, now)
            return
        skipped = [] if branch is None else self._skip_branches(active, task.name, branch, now)
        self._settle(active, [attempt.task, *skipped], now)

    def _skip_branches(
        self, active: _ActiveRun, task: str, branch: tuple[str, ...], now: datetime
    ) -> list[str]:
        """Skip the pending direct downstream tasks the branch ``task`` chose did not lead to."""
        skipped = [
            name
            for name in branching.not_chosen(active.graph.downstream, task, branch)
            if active.states[name] is TaskState.PENDING
        ]
        for name in skipped:
            active.states.set(name, TaskState.SKIPPED)
            self.store.set_task_state(
                active.run, name, TaskState.SKIPPED, now, reason=branching.REASON
            )
            self._report(active, name, TaskState.SKIPPED, 0, now)
        return skipped

    def _lost(self, active: _ActiveRun) -> bool:
        """True, forgetting the run and stopping what it still runs, when another process
        supervises it now (this one hung and was taken over): nothing more is written."""
        run = self.store.get_run(active.run.id)
        if run.state is RunState.RUNNING and run.supervisor == processes.current():
            return False
        if self._runs.pop(active.run.id, None) is not None:
            logger.warning(
                "run %s of %s was taken over by %s; this process no longer records it",
                run.id, run.job, run.supervisor or "another process",
                extra={"job": run.job, "run_id": run.id},
            )  # fmt: skip
        active.ready.clear()
        for attempt in active.running.values():
            self.executor.cancel(attempt.id, reason="run taken over by another scheduler")
        return True

    # -- graph --------------------------------------------------------------------

    def _settle(self, active: _ActiveRun, changed: list[str] | None, now: datetime) -> None:
        if active.stop_reason is not None:
            return
        expand, sense = [], []
        for decision in active.states.settle(changed):
            if decision.verdict is Verdict.RUN:
                if active.job.tasks[decision.task].sensor is not None:
                    sense.append(decision.task)
                elif active.job.tasks[decision.task].mapped:
                    expand.append(decision.task)
                else:
                    active.ready.add(decision.task)
                continue
            state = active.states[decision.task]
            self.store.set_task_state(
                active.run, decision.task, state, now, reason="trigger rule not met"
            )
            self._report(active, decision.task, state, 0, now)
        for name in expand:
            self._expand(active, name, now)
        for name in sense:
            self._start_sensor(active, name, now)

    # -- sensors ------------------------------------------------------------------

    def _start_sensor(self, active: _ActiveRun, name: str, now: datetime) -> None:
        """Begin (or, after a restart, go on) waiting: the deadline counts from the first
        poke of this run's task, whoever made it."""
        sensor = active.job.tasks[name].sensor
        assert sensor is not None
        began = self.store.first_poke(active.run.id, name) or now
        active.sensing[name] = began + timedelta(seconds=sensor.timeout)
        active.states.set(name, TaskState.RUNNING)
        self.store.set_task_state(active.run, name, TaskState.RUNNING, now)
        self._report(active, name, TaskState.RUNNING, 0, now)
        self._add_timer(now, "poke", active.run.id, name)

    def _poke(self, active: _ActiveRun, name: str, now: datetime) -> None:
        deadline = active.sensing.get(name)
        if deadline is None:
            return
        sensor = active.job.tasks[name].sensor
        assert sensor is not None
        if now >= deadline:
            self._sensor_timed_out(active, name, now)
            return
        known = templates.values(active.job, active.run)
        if sensor.kind is SensorKind.FILE:
            self._poked(active, name, *sensing.file_poke(sensor, known), now)
        elif sensor.kind is SensorKind.JOB:
            self._poked(active, name, *self._job_poke(active, sensor), now)
        else:
            env = attempt_env(active.job, active.run, name, 0, active.env)
            self._poker.poke(active.run.id, name, sensor, known, env)

    def _job_poke(self, active: _ActiveRun, sensor: Sensor) -> tuple[bool, str]:
        start, end = templates.logical_day(active.job, active.run)
        done = self.store.job_succeeded_between(str(sensor.target), start, end)
        return done, f"job {sensor.target!r} {'succeeded' if done else 'has not succeeded'}"

    def _poked(
        self, active: _ActiveRun, name: str, ready: bool, detail: str, now: datetime
    ) -> None:
        """A poke's answer: the wait ends, or the next poke is set."""
        sensor = active.job.tasks[name].sensor
        assert sensor is not None
        self.store.record_poke(active.run, name, now, ready=ready, detail=detail)
        if not ready:
            at = min(now + timedelta(seconds=sensor.interval), active.sensing[name])
            self._add_timer(at, "poke", active.run.id, name)
            return
        del active.sensing[name]
        active.states.set(name, TaskState.SUCCESS)
        self.store.set_task_state(active.run, name, TaskState.SUCCESS, now)
        self._report(active, name, TaskState.SUCCESS, 0, now)
        self._settle(active, [name], now)

    def _sensor_timed_out(self, active: _ActiveRun, name: str, now: datetime) -> None:
        sensor = active.job.tasks[name].sensor
        assert sensor is not None
        del active.sensing[name]
        error = f"sensor {name!r} timed out after {sensor.timeout:g}s: its condition was not met"
        if sensor.on_timeout is OnTimeout.SKIP:
            self._end_unstarted(active, name, TaskState.SKIPPED, now, reason="sensor timed out")
        else:
            self._fail_unstarted(active, name, "sensor timed out", error, now)

    # -- mapped tasks -------------------------------------------------------------

    def _expand(self, active: _ActiveRun, name: str, now: datetime) -> None:
        """Make the instances of a mapped task that is ready, ready in turn."""
        task = active.job.tasks[name]
        try:
            items = mapping.items_of(
                task, active.results, {**active.job.params, **active.run.params}
            )
        except mapping.MapError as exc:
            self._fail_unstarted(active, name, exc.reason, str(exc), now)
            return
        if not items:
            self._end_unstarted(active, name, TaskState.SKIPPED, now, reason=mapping.EMPTY)
            return
        names = [instance_name(name, i) for i in range(len(items))]
        self.store.add_instance_rows(active.run, names, task.after, now)
        rows = {n: r.state for n, r in self.store.task_runs(active.run.id).items()}
        exhausted = [n for n in names if active.tries.get(n, 0) > task.retries]
        expansion = active.mapped[name] = mapping.expand(
            task, items, rows, active.results, exhausted
        )
        active.states.set(name, TaskState.RUNNING)
        self.store.set_task_state(active.run, name, TaskState.RUNNING, now)
        self._report(active, name, TaskState.RUNNING, 0, now)
        for instance in expansion.names(TaskState.PENDING):
            active.ready.add(instance)
        if not expansion.unfinished:
            self._mapped_ended(active, name, now)

    def _mapped_ended(self, active: _ActiveRun, name: str, now: datetime) -> None:
        """Every instance of a mapped task ended: it ends as they did, with their results."""
        expansion = active.mapped[name]
        state = expansion.outcome()
        if state is TaskState.SUCCESS:
            active.results[name] = expansion.results
        self._end_unstarted(active, name, state, now, reason="every instance was skipped")

    def _end_unstarted(
        self, active: _ActiveRun, name: str, state: TaskState, now: datetime, *, reason: str
    ) -> None:
        active.states.set(name, state)
        self.store.set_task_state(active.run, name, state, now, reason=reason)
        self._report(active, name, state, 0, now)
        self._settle(active, [name], now)

    def _fail_unstarted(
        self, active: _ActiveRun, name: str, reason: str, error: str, now: datetime
    ) -> None:
        """Record a task that cannot start as one failed attempt, with why."""
        try:
            attempt = self.store.start_attempt(active.run, name, now)
        except RunLostError:
            self._lost(active)
            return
        assert attempt is not None  # no pool: never waits for a slot
        self.store.finish_attempt(attempt, TaskState.FAILED, now, error=error, reason=reason)
        active.states.set(name, TaskState.FAILED)
        self._report(active, name, TaskState.FAILED, attempt.number, now)
        self._settle(active, [name], now)

    def _cancel_waiting(self, active: _ActiveRun, reason: str, now: datetime) -> None:
        """Cancel the sensors that wait, and the instances that wait to start or to retry
        (stopping a run)."""
        for name in list(active.sensing):
            del active.sensing[name]
            active.states.set(name, TaskState.CANCELLED)
            self.store.set_task_state(active.run, name, TaskState.CANCELLED, now, reason=reason)
            self._report(active, name, TaskState.CANCELLED, 0, now)
        for expansion in list(active.mapped.values()):
            for instance in list(expansion.names(TaskState.PENDING, TaskState.RETRYING)):
                active.set_state(instance, TaskState.CANCELLED)
                self.store.set_task_state(
                    active.run, instance, TaskState.CANCELLED, now, reason=reason
                )
                self._report(active, instance, TaskState.CANCELLED, 0, now)
            if not expansion.unfinished and not active.states[expansion.task].finished:
                self._mapped_ended(active, expansion.task, now)

    def _stop(self, active: _ActiveRun, state: RunState, reason: str, now: datetime) -> None:
        """Stop a run: cancel what runs, mark what has not started as cancelled."""
        if active.stop_reason is not None:
            return
        active.stop_reason, active.stop_state = reason, state
        active.ready.clear()
        for name, task_state in active.states.items():
            if task_state in (TaskState.PENDING, TaskState.RETRYING):
                active.states.set(name, TaskState.CANCELLED)
                self.store.set_task_state(active.run, name, TaskState.CANCELLED, now, reason=reason)
                self._report(active, name, TaskState.CANCELLED, 0, now)
        self._cancel_waiting(active, reason, now)
        for attempt in active.running.values():
            if state is RunState.FAILED:
                self.executor.time_out(attempt.id)
            else:
                self.executor.cancel(attempt.id, reason=reason)

    # -- timers -------------------------------------------------------------------

    def _add_timer(self, at: datetime, kind: str, run_id: int, ref: int | str = "") -> None:
        heapq.heappush(self._timers, (at, next(self._seq), kind, run_id, str(ref)))

    def _wait_seconds(self, timeout: float | None) -> float | None:
        candidates = [timeout] if timeout is not None else []
        if self._timers:
            candidates.append(max(0.0, (self._timers[0][0] - self.clock()).total_seconds()))
        if self._waiting_for_pool:
            candidates.append(POOL_POLL_SECONDS)
        return min(candidates) if candidates else None

    def _fire_timers(self, now: datetime) -> None:
        while self._timers and self._timers[0][0] <= now:
            _, _, kind, run_id, ref = heapq.heappop(self._timers)
            if kind == "cancel_poll":
                self._poll_cancel_requests(now)
                continue
            if kind == "launches":
                self._record_traced(now)
                continue
            active = self._runs.get(run_id)
            if active is None:
                continue
            if kind == "retry" and active.stop_reason is None:
                active.set_state(ref, TaskState.PENDING)
                active.ready.add(ref)
            elif kind == "timeout":
                entry = self._by_key.get(int(ref))
                if entry is not None:
                    self.executor.time_out(int(ref))
            elif kind == "poke" and active.stop_reason is None:
                self._poke(active, ref, now)
            elif kind == "run_timeout":
                timeout = active.job.timeout or 0
                self._stop(active, RunState.FAILED, f"run timed out after {timeout:g}s", now)

    def _poll_cancel_requests(self, now: datetime) -> None:
        """Cancel the runs someone asked to cancel from the dashboard; poll again later
        while runs are active."""
        from runner.store.operations import cancel_requests

        live = [i for i, a in self._runs.items() if a.stop_reason is None]
        for run_id, user in cancel_requests(self.store, live).items():
            self._stop(self._runs[run_id], RunState.CANCELLED, f"cancelled by {user}", now)
        self._polling_cancels = bool(self._runs)
        if self._polling_cancels:
            self._add_timer(now + timedelta(seconds=CANCEL_POLL_SECONDS), "cancel_poll", 0)

    # -- dispatch -----------------------------------------------------------------

    def _dispatch(self, now: datetime) -> None:
        self._waiting_for_pool = False
        running = len(self._by_key)
        for active in list(self._runs.values()):
            if not active.ready:
                continue
            limit = active.job.max_parallel or self.workers
            waiting = []  # ready, but their pool is full right now
            while active.ready and running < self.workers and len(active.running) < limit:
                name = active.ready.pop()
                if self._launch(active, name, now):
                    running += 1
                else:
                    waiting.append(name)
            for name in waiting:
                active.ready.add(name)
            if running >= self.workers:
                return

    def _launch(self, active: _ActiveRun, name: str, now: datetime) -> bool:
        task = active.job.tasks[logical_task(name)]
        try:
            attempt = self.store.start_attempt(
                active.run,
                name,
                now,
                pool=task.pool,
                pool_size=self.pools.get(task.pool) if task.pool else None,
                log_dir=self.log_dir,
            )
        except RunLostError:
            self._lost(active)
            return True  # nothing started; the run is gone from this engine
        if attempt is None:
            self._waiting_for_pool = True
            return False
        active.tries[name] = active.tries.get(name, 0) + 1
        active.set_state(name, TaskState.RUNNING)
        active.running[name] = attempt
        self._by_key[attempt.id] = (active, attempt)
        env = attempt_env(active.job, active.run, task.name, attempt.number, active.env)
        index = mapping.index_of(name)
        instance = None if index is None else (index, active.mapped[task.name].items[index])
        env.update(mapping.instance_env(instance))
        env.update(task.env)
        context = self.observer.attempt_started(active.job, active.run, attempt)
        env.update(context)
        span_id = _span_id(context.get("TRACEPARENT"))
        if span_id is not None:
            self.store.set_attempt_process(attempt, pid=None, span_id=span_id)
        spec = AttemptSpec(
            key=attempt.id,
            job=active.job.name,
            task=task,
            run_id=active.run.id,
            attempt=attempt.number,
            logical_time=active.run.logical_time,
            env=env,
            stdout_path=attempt.stdout_path,
            stderr_path=attempt.stderr_path,
            upstream_results=mapping.upstream_results(task, active.results, instance),
            kill_grace=active.job.kill_grace,
            log_cap_bytes=self.log_cap_bytes,
        )
        if task.timeout is not None:
            self._add_timer(
                now + timedelta(seconds=task.timeout), "timeout", active.run.id, attempt.id
            )
        self._report(active, name, TaskState.RUNNING, attempt.number, now)
        self.executor.submit(spec)
        return True

    # -- ends ---------------------------------------------------------------------

    def _finish_runs(self, now: datetime) -> None:
        for run_id, active in list(self._runs.items()):
            if active.running or active.ready:
                continue
            if active.stop_reason is None and active.states.unfinished:
                if active.retrying:
                    continue
                # Nothing runs or can run, yet tasks are unfinished: cannot happen with a
                # valid graph; end the run rather than hang.
                self._stop(active, RunState.FAILED, "tasks could not be scheduled", now)
            failed = active.failed_tasks()
            if active.stop_state is not None:
                state, reason = active.stop_state, active.stop_reason
            elif failed:
                state, reason = RunState.FAILED, f"failed: {', '.join(failed)}"
            else:
                state, reason = RunState.SUCCESS, None
            self.store.mark_run_finished(
                active.run,
                state,
                now,
                reason=reason,
                failed_tasks=failed,
                supervised_by=processes.current(),
            )
            logger.info(
                "run %s of %s ended %s%s",
                run_id,
                active.job.name,
                state.value,
                f" ({reason})" if reason else "",
                extra={"job": active.job.name, "run_id": run_id, "state": state.value},
            )
            self.observer.run_finished(active.run, state, reason)
            del self._runs[run_id]
            self.finished.append(self.store.get_run(run_id))

    def _report(
        self, active: _ActiveRun, task: str, state: TaskState, attempt: int, now: datetime
    ) -> None:
        if self.progress is not None:
            self._progressed.append(
                Progress(active.run.id, active.job.name, task, state, attempt, now)
            )

    def _discard_told(self) -> None:
        """Remove the status files of the outcomes this turn committed: from now on the
        store tells how those attempts ended (a crash before the commit leaves the files to
        recovery, which reads the outcomes there)."""
        told, self._told = self._told, []
        for path in told:
            exitstatus.discard(path)

    def _show_progress(self) -> None:
        """Hand the turn's changes, committed now, to ``progress`` in one call."""
        if self._progressed and self.progress is not None:
            changes, self._progressed = self._progressed, []
            self.progress(changes)
