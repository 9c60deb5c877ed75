"""The actions: each checks the allow-list (again, whatever the page showed), does the
operation through the store or the runwatch command that owns it, and records an
``operator_action`` event with the user's identity."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from dashboards.operations.commands import run_command, start_command
from dashboards.settings import DashboardSettings
from runner.dashboard_access import Action, Operator
from runner.errors import RunwatchError
from runner.events import OperatorAction
from runner.model import RunState, Trigger
from runner.store.dashboard_reads.operations import ALERTS_JOB
from runner.store.silences import expire_silence
from runner.store.store import Store

_RERUNNABLE = (RunState.FAILED, RunState.CANCELLED)


@dataclass(frozen=True)
class Outcome:
    """What happened, to show the user."""

    ok: bool
    message: str


@dataclass(frozen=True)
class Subject:
    """What an action is about: a job, a run of it, or (``job`` empty) alerts."""

    job: str = ALERTS_JOB
    run_id: int | None = None
    text: str = ""


def refusal(settings: DashboardSettings, action: Action, operator: Operator | None) -> str | None:
    """Why ``operator`` may not do ``action`` here, or None when they may."""
    if settings.allow is None or settings.groups_claim is None:
        return "operations are off: the dashboard is read-only (dashboard.actions)"
    if operator is None:
        return f"log in to {action.value}"
    if not settings.allow.allows(action, operator):
        return f"{operator.name} may not {action.value}: not listed in dashboard.allow.{action}"
    return None


def trigger(
    settings: DashboardSettings, operator: Operator | None, job: str, params: Sequence[str]
) -> Outcome:
    """Queue a manual run of ``job`` with ``KEY=VALUE`` ``params`` (`runwatch trigger`
    checks them)."""
    refused = refusal(settings, Action.TRIGGER, operator)
    if refused:
        return Outcome(False, refused)
    args = ["trigger", job, "--format", "json"]
    for param in params:
        args += ["--param", param]
    result = run_command(settings, *args)
    if result.returncode != 0:
        return Outcome(False, f"runwatch trigger {job} failed: {result.problem}")
    queued = json.loads(result.stdout)
    run_id = int(queued["run_id"])
    shown = "params " + ", ".join(p.partition("=")[0] for p in params) if params else ""
    _record(settings, operator, Action.TRIGGER, Subject(job, run_id, f"run {run_id}"), shown)
    note = "" if queued["scheduler_alive"] else " (no scheduler is running: it waits for one)"
    return Outcome(True, f"run {run_id} of {job} queued{note}")


def rerun(
    settings: DashboardSettings,
    operator: Operator | None,
    run: RunSubject,
) -> Outcome:
    """Run a finished run's unsuccessful tasks again (as `runwatch run --logical-time`)."""
    refused = refusal(settings, Action.RERUN, operator)
    if refused:
        return Outcome(False, refused)
    if run.state not in _RERUNNABLE or run.trigger is Trigger.WRAP:
        why = "only a failed or cancelled run of a runwatch job (not a wrapped one) can be rerun"
        return Outcome(False, f"run {run.id} is {run.state.value}: {why}")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    log = Path(settings.logs_dir) / "dashboard" / f"rerun-{run.id}-{stamp}.log"
    subject = Subject(run.job, run.id, f"run {run.id}")
    _record(settings, operator, Action.RERUN, subject, "the tasks that did not succeed")
    pid = start_command(settings, log, "run", run.job, "--logical-time", run.logical_time)
    return Outcome(True, f"rerunning run {run.id}'s unsuccessful tasks (pid {pid}, log {log})")


def cancel(settings: DashboardSettings, operator: Operator | None, run: RunSubject) -> Outcome:
    """Ask the process that runs ``run`` to cancel it (it polls for the request)."""
    refused = refusal(settings, Action.CANCEL, operator)
    if refused:
        return Outcome(False, refused)
    if run.state is not RunState.RUNNING or run.trigger is Trigger.WRAP:
        why = "only a running run that runwatch supervises (not a wrapped one) can be cancelled"
        return Outcome(False, f"run {run.id} is {run.state.value}: {why}")
    _record(settings, operator, Action.CANCEL, Subject(run.job, run.id, f"run {run.id}"), "")
    return Outcome(True, f"cancel of run {run.id} asked: its scheduler stops it within seconds")


def pause(
    settings: DashboardSettings, operator: Operator | None, job: str, paused: bool
) -> Outcome:
    """Pause or unpause ``job``'s schedule (as `runwatch pause`/`unpause`)."""
    refused = refusal(settings, Action.PAUSE, operator)
    if refused:
        return Outcome(False, refused)
    verb = "paused" if paused else "unpaused"
    try:
        with _store(settings) as store:
            store.set_paused(job, paused)
    except RunwatchError as exc:
        return Outcome(False, str(exc))
    _record(settings, operator, Action.PAUSE, Subject(job, None, job), verb)
    return Outcome(True, f"{job} {verb}")


def add_silence(
    settings: DashboardSettings,
    operator: Operator | None,
    matchers: Sequence[str],
    duration: str,
    comment: str,
) -> Outcome:
    """Silence the alerts that match for ``duration`` (as `runwatch silence add`)."""
    refused = refusal(settings, Action.SILENCE, operator)
    if refused or operator is None:
        return Outcome(False, refused or "")
    args = ["silence", "add", "--duration", duration, "--comment", comment]
    for matcher in matchers:
        args += ["--matcher", matcher]
    result = run_command(settings, *args, "--author", operator.name, "--format", "json")
    if result.returncode != 0:
        return Outcome(False, f"runwatch silence add failed: {result.problem}")
    silence = json.loads(result.stdout)
    text = f"silence {silence['id']}"
    detail = f"added for {duration}: {', '.join(matchers)} ({comment})"
    _record(settings, operator, Action.SILENCE, Subject(text=text), detail)
    return Outcome(True, f"{text} added: {', '.join(matchers)}")


def expire_silence_now(
    settings: DashboardSettings, operator: Operator | None, silence_id: int
) -> Outcome:
    """End a silence now (as `runwatch silence expire`)."""
    refused = refusal(settings, Action.SILENCE, operator)
    if refused:
        return Outcome(False, refused)
    try:
        with _store(settings) as store:
            expire_silence(store, silence_id, datetime.now(UTC))
    except RunwatchError as exc:
        return Outcome(False, str(exc))
    _record(settings, operator, Action.SILENCE, Subject(text=f"silence {silence_id}"), "expired")
    return Outcome(True, f"silence {silence_id} expired")


def acknowledge(
    settings: DashboardSettings, operator: Operator | None, fingerprint: str, alert: str
) -> Outcome:
    """Say someone is on a firing alert: recorded, and shown on the alerts page."""
    refused = refusal(settings, Action.ACKNOWLEDGE, operator)
    if refused:
        return Outcome(False, refused)
    _record(settings, operator, Action.ACKNOWLEDGE, Subject(text=fingerprint), alert)
    return Outcome(True, f"{alert} acknowledged")


@dataclass(frozen=True)
class RunSubject:
    """The run an action is about, as its page read it."""

    id: int
    job: str
    state: RunState
    trigger: Trigger
    logical_time: str
    """ISO 8601, as `runwatch run --logical-time` takes it."""


def _store(settings: DashboardSettings) -> Store:
    if not settings.db_url:
        raise RunwatchError("no store configured")
    return Store.open(settings.db_url, migrate=False, recover=False)


def _record(
    settings: DashboardSettings,
    operator: Operator | None,
    action: Action,
    subject: Subject,
    detail: str,
) -> None:
    assert operator is not None  # refusal() let it through
    event = OperatorAction(
        at=datetime.now(UTC),
        job=subject.job,
        run_id=subject.run_id,
        action=action.value,
        user=operator.name,
        subject=subject.text,
        detail=detail,
    )
    with _store(settings) as store:
        store.append(event)
