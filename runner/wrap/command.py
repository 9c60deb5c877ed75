"""`runwatch wrap`: run a command exactly as cron would, and record it as a run of a job.

The command's output passes through unchanged and its exit status is ours. Whatever
goes wrong inside runwatch — a locked or unreachable store, a bad option, a bug — is
one line on stderr and never changes what the command does or how wrap exits: results
that cannot be recorded go to the spool, and the next wrap (or `runwatch serve`)
records them.
"""

from __future__ import annotations

import os
import re
import signal
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from runner.wrap.checkpoints import Checkpoints
from runner.wrap.interrupts import INTERRUPTS, Interrupts
from runner.wrap.options import HELP, USAGE, WrapOptions, parse_wrap_args
from runner.wrap.process import TAIL_LINES, Command, Outcome, Output, SpawnError, same_file
from runner.wrap.report import (
    CANCELLED,
    FAILED,
    SUCCESS,
    TIMED_OUT,
    AttemptReport,
    JobSpec,
    Report,
    RunReport,
    SkipReport,
    new_report_id,
)
from runner.wrap.secrets import wrap_redactor, wrapped_environment
from runner.wrap.settings import WrapSettings, env_settings, load_wrap_settings
from runner.wrap.sink import Sink, StoreSink, open_sink, spool_target
from runner.wrap.spool import Spool

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    from runner.wrap.tracing import WrapTracing

EXIT_USAGE = 2
EXIT_TIMED_OUT = 124
"""As GNU timeout(1): the command ran past ``--timeout`` and was stopped."""
KILL_GRACE_SECONDS = 5.0
MAX_RETRY_DELAY_SECONDS = 600.0
"""As a task's ``max_retry_delay`` default."""
_JOB_NAME = re.compile(r"[A-Za-z0-9_.-]+")


def warn(message: str) -> None:
    """Report a problem of runwatch itself: one line on stderr."""
    sys.stderr.write(f"runwatch wrap: {message}\n")
    sys.stderr.flush()


AfterRun = Callable[[WrapSettings, RunReport, StoreSink], None]
"""Called once a run's end is in the store (the CLI delivers alerts from it)."""


def run_wrap(
    argv: list[str],
    env: Mapping[str, str],
    cwd: str | None = None,
    *,
    after_run: AfterRun | None = None,
) -> int:
    """Run `runwatch wrap ARGV`; the command's exit status (2 when there is no command)."""
    interrupts = Interrupts()
    interrupts.install()  # first of all: no signal may kill wrap and leave a run open
    try:
        checkpoints = Checkpoints(env)
        checkpoints.reach("started")
        return _run_wrap(
            argv, env, cwd, after_run=after_run, interrupts=interrupts, checkpoints=checkpoints
        )
    finally:
        interrupts.uninstall()


def _run_wrap(
    argv: list[str],
    env: Mapping[str, str],
    cwd: str | None,
    *,
    after_run: AfterRun | None,
    interrupts: Interrupts,
    checkpoints: Checkpoints,
) -> int:
    options = parse_wrap_args(argv)
    if options.help:
        sys.stdout.write(HELP)
        return 0
    if not options.command:
        sys.stderr.write(USAGE + "runwatch wrap: error: no command given (put it after --)\n")
        return EXIT_USAGE
    _open_missing_standard_streams()
    for problem in options.problems:
        warn(problem)
    job = _job_spec(options)
    if job is None:
        return exec_unrecorded(options.command, interrupts)
    try:
        wrapper = Wrapper(
            options,
            job,
            env,
            cwd or os.getcwd(),
            after_run,
            interrupts=interrupts,
            checkpoints=checkpoints,
        )
    except Exception as exc:  # never let runwatch stop the command
        warn(f"internal error, running the command unrecorded: {type(exc).__name__}: {exc}")
        return exec_unrecorded(options.command, interrupts)
    return wrapper.run()


def _open_missing_standard_streams() -> None:
    """Put /dev/null on a closed stdin, stdout or stderr, so that no pipe of ours takes
    its number (and the command finds the three it expects)."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:
            opened = os.open(os.devnull, os.O_RDWR)  # the lowest free number: this one
            if opened != fd:
                os.dup2(opened, fd)
                os.close(opened)
            os.set_inheritable(fd, True)


def _job_spec(options: WrapOptions) -> JobSpec | None:
    name = options.job
    if name is None:
        warn("--job NAME is missing: the command runs unrecorded")
        return None
    if not _JOB_NAME.fullmatch(name) or set(name) == {"."}:
        warn(
            f"--job {name!r}: a job name is letters, digits, '_', '.' or '-' (not only dots); "
            "the command runs unrecorded"
        )
        return None
    return JobSpec(
        name,
        schedule=options.schedule,
        timezone=options.timezone,
        grace=options.grace,
        expected_duration=options.expected_duration,
        timeout=options.timeout,
        owner=options.owner,
        tags=tuple(options.tags),
        inputs=tuple(options.inputs),
        outputs=tuple(options.outputs),
    )


def exec_unrecorded(argv: list[str], interrupts: Interrupts | None = None) -> int:
    """Become the command (nothing to record); 127/126 when it cannot be run, 128+N when
    signal N came first. From here on signals act on the command as they would on it."""
    sys.stdout.flush()
    if interrupts is not None:
        interrupts.uninstall()
        if interrupts.first is not None:
            return 128 + interrupts.first
    try:
        os.execvp(argv[0], argv)  # noqa: S606 - becoming the command is the point
    except FileNotFoundError:
        warn(f"command not found: {argv[0]!r}")
        return 127
    except OSError as exc:
        warn(f"cannot run {argv[0]!r}: {exc.strerror or exc}")
        return 126
    raise AssertionError("unreachable: execvp returned")


class Wrapper:
    """One invocation of `runwatch wrap` with a job to record."""

    def __init__(
        self,
        options: WrapOptions,
        job: JobSpec,
        env: Mapping[str, str],
        cwd: str,
        after_run: AfterRun | None = None,
        *,
        interrupts: Interrupts | None = None,
        checkpoints: Checkpoints | None = None,
    ) -> None:
        self.options = options
        self.after_run = after_run
        self.job = job
        self.env = env
        self.cwd = cwd
        self.interrupts = interrupts or Interrupts()
        self.checkpoints = checkpoints or Checkpoints({})
        self.settings = self._settings(cwd)
        self.checkpoints.reach("settings")
        self.spool = Spool(self.settings.spool_dir)
        self.sink: Sink | None = self._sink()
        self.checkpoints.reach("sink")
        self.tracing: WrapTracing | None = None
        self.report: RunReport | None = None
        self.run_id: int | None = None
        self.spooled = False
        self.status: int | None = None
        """The exit status of the last attempt, once there is one."""

    def _settings(self, cwd: str) -> WrapSettings:
        try:
            return load_wrap_settings(self.env, cwd, config=self.options.config, db=self.options.db)
        except Exception as exc:
            warn(f"settings not read, using the environment's: {exc}")
            return env_settings(self.env, cwd, self.options.db)

    def _sink(self) -> Sink | None:
        try:
            return open_sink(self.options, self.settings, self.env)
        except Exception as exc:
            warn(f"results go to the spool: {exc}")
            return None

    # -- the run --------------------------------------------------------------------------

    def run(self) -> int:
        """Run the command (with its retries), record it; the command's exit status."""
        from runner.wrap.lock import JobLock

        lock = JobLock(self.settings.lock_dir, self.job.name)
        if self.options.overlap != "allow":
            try:
                if not lock.acquire(wait=self.options.overlap == "wait"):
                    self._skip()
                    return 0
            except OSError as exc:
                warn(f"cannot take the job's lock {lock.path}, running anyway: {exc}")
        self.checkpoints.reach("locked")
        try:
            return self._run_recorded()
        except Exception as exc:  # a bug of ours: the command's status still stands
            warn(f"internal error: {type(exc).__name__}: {exc}")
            if self.status is not None:
                return self.status
            return exec_unrecorded(self.options.command, self.interrupts)
        finally:
            lock.release()

    def _skip(self) -> None:
        reason = f"overlap: a previous run of {self.job.name} is still running"
        warn(f"{reason}; this start is skipped")
        self._deliver(SkipReport(new_report_id(), self.job, time.time(), reason), final=True)

    def _run_recorded(self) -> int:
        report = RunReport(new_report_id(), self.job, time.time(), supervisor=_identity())
        self.report = report
        self._start_tracing()
        self._check_schedule()
        while True:
            attempt = report.start_attempt(time.time())
            self._deliver(report)
            if self.tracing is not None and attempt.number == 1:
                trace_id = self._traced(self.tracing.run_started, report, self.run_id)
                report.trace_id = trace_id if isinstance(trace_id, str) else None
            self.status, interrupted = self._attempt(report, attempt)
            attempt.will_retry = (
                attempt.state in (FAILED, TIMED_OUT)
                and interrupted is None
                and attempt.number <= self.options.retries
            )
            if self.tracing is not None:
                self._traced(self.tracing.attempt_finished, report, self.run_id, attempt)
            if not attempt.will_retry:
                break
            # From here a SIGTERM waits for sigtimedwait: it must not cut the record short.
            signal.pthread_sigmask(signal.SIG_BLOCK, INTERRUPTS)
            try:
                self._deliver(report)
                interrupted = self._sleep_before_retry(attempt.number)
            finally:
                signal.pthread_sigmask(signal.SIG_UNBLOCK, INTERRUPTS)
            if interrupted is not None:
                self.status = 128 + interrupted
                break
        with _interrupts_deferred():
            self._finish(report, interrupted)
        return self.status

    def _finish(self, report: RunReport, interrupted: int | None) -> None:
        last = report.attempts[-1]
        if interrupted is not None:
            report.finish(
                CANCELLED, time.time(), f"interrupted by {signal.Signals(interrupted).name}"
            )
        elif last.state == SUCCESS:
            report.finish(SUCCESS, time.time())
        else:
            report.finish(FAILED, time.time(), f"failed: {report.task}")
        self._deliver(report, final=True)
        if self.tracing is not None:
            self._traced(self.tracing.run_finished, report, self.run_id)
            self._traced(self.tracing.close)
        if not self.spooled:
            self._replay_spool()
            self._after_run(report)
            if report.state == FAILED:
                self._say_if_unalerted(report)

    def _attempt(self, report: RunReport, attempt: AttemptReport) -> tuple[int, int | None]:
        """Run one attempt; the exit status and the interrupting signal, if any."""
        if attempt.stdout_path is None:
            base = os.path.join(
                self.settings.log_dir,
                report.job.name,
                f"spool-{report.id}",
                f"{report.task}.{attempt.number}",
            )
            attempt.stdout_path, attempt.stderr_path = f"{base}.out", f"{base}.err"
        env = {
            **wrapped_environment(self.settings, self.env, self.options.token_env),
            **self._attempt_env(report, attempt),
        }
        merged = same_file(1, 2)
        cap = self.settings.log_cap_bytes
        stdout = Output(1, attempt.stdout_path, cap, warn=warn)
        stderr = None if merged else Output(2, attempt.stderr_path, cap, warn=warn)
        command = Command(
            self.options.command,
            env=env,
            stdout=stdout,
            stderr=stderr,
            timeout=self.options.timeout,
            kill_grace=KILL_GRACE_SECONDS,
        )
        self.checkpoints.reach("spawning")
        early = self.interrupts.first
        if early is not None:  # asked to stop before the command started: it never does
            reason = f"interrupted by {signal.Signals(early).name} before it started"
            attempt.finish(CANCELLED, time.time(), reason=reason)
            return 128 + early, early
        try:
            attempt.pid = command.start()
            attempt.pid_start = command.pid_start
        except SpawnError as exc:
            warn(str(exc))
            attempt.finish(
                FAILED, time.time(), exit_code=exc.exit_status, error=str(exc), reason=str(exc)
            )
            return exc.exit_status, None
        self.checkpoints.reach("spawned")
        self.interrupts.relay_to(command.pass_on)
        try:
            self._record_process(report, attempt)
            self.checkpoints.reach("watching")
            outcome = self._wait(command)
        finally:
            self.interrupts.relay_to(None)
        tail = (stdout if stderr is None else stderr).tail(TAIL_LINES)
        tail = wrap_redactor(self.settings, self.env, self.options.token_env).redact_optional(tail)
        _finish_attempt(attempt, outcome, tail)
        interrupted = self.interrupts.first
        if interrupted is not None:
            attempt.state = CANCELLED
            return 128 + interrupted, interrupted
        return (EXIT_TIMED_OUT if outcome.timed_out else outcome.exit_status), None

    def _wait(self, command: Command) -> Outcome:
        try:
            return command.wait()
        except Exception as exc:  # passthrough broke: the command's exit status still counts
            warn(f"output capture failed, waiting for the command: {type(exc).__name__}: {exc}")
            assert command.proc is not None
            return Outcome(command.proc.wait())

    def _attempt_env(self, report: RunReport, attempt: AttemptReport) -> dict[str, str]:
        env = {
            "RUNWATCH_JOB": report.job.name,
            "RUNWATCH_TASK": report.task,
            "RUNWATCH_LOGICAL_TIME": _iso(report.logical_time),
            "RUNWATCH_ATTEMPT": str(attempt.number),
        }
        if self.run_id is not None:
            env["RUNWATCH_RUN_ID"] = str(self.run_id)
        if self.tracing is not None:
            extra = self._traced(self.tracing.attempt_started, report, self.run_id, attempt)
            if isinstance(extra, dict):
                env.update({str(k): str(v) for k, v in extra.items()})
        return env

    def _sleep_before_retry(self, number: int) -> int | None:
        """Wait before the next attempt; the signal that asked us to stop instead, if any.
        The caller has blocked the interrupting signals."""
        import random

        from runner.engine.engine import backoff_delay

        if self.interrupts.first is not None:
            return self.interrupts.first
        delay = backoff_delay(
            self.options.retry_delay, MAX_RETRY_DELAY_SECONDS, number, random.Random()
        )
        received = signal.sigtimedwait(INTERRUPTS, delay)  # the caller blocked them
        if received is None:
            return None
        self.interrupts.first = received.si_signo
        return received.si_signo

    # -- recording ------------------------------------------------------------------------

    def _deliver(self, report: Report, *, final: bool = False) -> None:
        """Record ``report`` now if the store answers; else (at the end) spool it.

        A start or retry that cannot be recorded in its short bound is quiet: the final
        record holds the whole run (recording brings the store in line with the report),
        so only a final record that fails within its own bound says so, and is spooled.
        """
        if self.sink is not None:
            try:
                run_id = self.sink.send(report, final=final)
            except Exception as exc:
                self.sink.close()  # reconnect later, with the final record's longer bound
                if not final:
                    return
                warn(self.sink.failure(exc))
                self.sink = None
            else:
                if run_id is not None:
                    self.run_id = run_id
                return
        if final:
            self._spool(report)

    def _spool(self, report: Report) -> None:
        try:
            self.spool.append(report, target=spool_target(self.options))
            self.spooled = True
        except OSError as exc:
            warn(f"cannot write the spool {self.spool.folder}, result lost: {exc}")

    def _record_process(self, report: RunReport, attempt: AttemptReport) -> None:
        if self.sink is None or self.run_id is None or attempt.pid is None:
            return
        try:
            self.sink.set_process(self.run_id, report, attempt)
        except Exception:  # the final record carries the pid too; it says what fails
            self.sink.close()

    def _replay_spool(self) -> None:
        if self.sink is None or not self.spool.pending():
            return
        result = self.sink.replay(self.spool)
        for problem in result.problems:
            warn(problem)
        if result.error is not None:
            warn(f"{result.left} spooled results still wait: {result.error}")

    def _after_run(self, report: RunReport) -> None:
        """Hand the recorded run to the CLI's hook (in-run alert delivery)."""
        if self.after_run is None or not isinstance(self.sink, StoreSink):
            return
        try:
            self.after_run(self.settings, report, self.sink)
        except Exception as exc:
            warn(f"after the run: {type(exc).__name__}: {exc}")

    def _say_if_unalerted(self, report: RunReport) -> None:
        """One stderr line when nobody can alert on this failure now (cron mails it)."""
        sink = self.sink
        if not isinstance(sink, StoreSink):
            return  # a `serve` took the report over HTTP: it alerts
        from runner.wrap.alert_gaps import alert_gap, unalerted_failure

        try:
            problem = alert_gap(self.settings, self.env, self.cwd, sink.serve_alive)
        except Exception as exc:
            problem = f"cannot tell whether anyone alerts ({type(exc).__name__}: {exc})"
        if problem is not None:
            last = report.attempts[-1]
            outcome = "timed out" if last.state == TIMED_OUT else f"failed ({last.reason})"
            warn(unalerted_failure(report.job.name, outcome, problem))

    def _check_schedule(self) -> None:
        """Refuse a schedule or timezone croniter cannot use (checked once per change)."""
        job = self.job
        if job.schedule is None and job.timezone == "UTC":
            return
        if self.sink is not None and self.sink.knows_schedule(job):
            return
        from runner.errors import InvalidScheduleError
        from runner.scheduling.schedule import validate_schedule, validate_timezone

        try:
            if job.schedule is not None:
                validate_schedule(job.schedule)
            validate_timezone(job.timezone)
        except InvalidScheduleError as exc:
            warn(f"{exc}: the job is recorded without a schedule")
            job.schedule, job.timezone = None, "UTC"

    # -- tracing --------------------------------------------------------------------------

    def _start_tracing(self) -> None:
        from runner.wrap.tracing import tracing_requested

        if not tracing_requested(self.env):
            return
        try:
            from runner.wrap.tracing import build_wrap_tracing

            self.tracing = build_wrap_tracing(self.env, self.options.command)
        except Exception as exc:
            warn(f"tracing is off: {exc}")

    @staticmethod
    def _traced(hook: Callable[..., object], *args: object) -> object:
        """Call a tracing hook; telemetry never throws into the run."""
        try:
            return hook(*args)
        except Exception as exc:
            warn(f"tracing: {type(exc).__name__}: {exc}")
            return None


@contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Hold SIGTERM and the like while the end is recorded, then drop them: the command
    they were meant for has ended, and its exit status is what wrap returns."""
    signal.pthread_sigmask(signal.SIG_BLOCK, INTERRUPTS)
    try:
        yield
    finally:
        while signal.sigtimedwait(INTERRUPTS, 0) is not None:
            continue
        signal.pthread_sigmask(signal.SIG_UNBLOCK, INTERRUPTS)


def _finish_attempt(attempt: AttemptReport, outcome: Outcome, tail: str | None) -> None:
    code = outcome.returncode
    if outcome.timed_out:
        state, reason = TIMED_OUT, "timed out"
    elif code == 0:
        state, reason = SUCCESS, None
    elif code < 0:
        state, reason = FAILED, _describe_signal(-code)
    else:
        state, reason = FAILED, f"exit code {code}"
    attempt.finish(
        state,
        time.time(),
        exit_code=code if code >= 0 else None,
        signal=-code if code < 0 else None,
        error=tail if state != SUCCESS else None,
        reason=reason,
    )


def _describe_signal(signum: int) -> str:
    """As runner.engine.outcome.describe_signal: ``killed by signal 9 (SIGKILL)``."""
    try:
        return f"killed by signal {signum} ({signal.Signals(signum).name})"
    except ValueError:
        return f"killed by signal {signum}"


def _iso(epoch: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).isoformat()


def _identity() -> str:
    from runner import processes

    return processes.current()
