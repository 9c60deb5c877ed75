"""Alert rules: what each rule kind fires on, and what resolves it.

Rules read events and per-job facts and return findings (fire or resolve); they write
nothing. Time-based rules (``stale``, ``duration_exceeded`` while a run is still going,
``deadline_missed``) are evaluated by ``RuleSet.on_tick`` with an injected ``now``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any

from alerting.facts import JobFacts, JobInfo, OpenRun
from alerting.matchers import Matcher, matches_all
from runner.durations import format_duration
from runner.events import (
    AttemptFailed,
    AttemptSucceeded,
    AttemptTimedOut,
    Event,
    RunCancelled,
    RunFailed,
    RunMissed,
    RunOverdue,
    RunStarted,
    RunSucceeded,
)
from runner.store.records import from_epoch


class RuleKind(StrEnum):
    """What a rule watches for."""

    RUN_FAILED = "run_failed"
    TASK_FAILED = "task_failed"
    CONSECUTIVE_FAILURES = "consecutive_failures"
    DURATION_EXCEEDED = "duration_exceeded"
    DEADLINE_MISSED = "deadline_missed"
    RUN_MISSED = "run_missed"
    RUN_OVERDUE = "run_overdue"
    STALE = "stale"
    RETRIES_EXHAUSTED = "retries_exhausted"


class Severity(StrEnum):
    """How bad an alert is; PagerDuty's four severities."""

    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


TASK_KINDS = frozenset({RuleKind.TASK_FAILED, RuleKind.RETRIES_EXHAUSTED})
"""Kinds whose alerts are per task (they carry a ``task`` label)."""

# Kinds resolved by the job's next successful run.
_RESOLVED_BY_SUCCESS = frozenset(
    {
        RuleKind.RUN_FAILED,
        RuleKind.TASK_FAILED,
        RuleKind.CONSECUTIVE_FAILURES,
        RuleKind.RETRIES_EXHAUSTED,
        RuleKind.STALE,
        RuleKind.DEADLINE_MISSED,
        RuleKind.RUN_OVERDUE,
    }
)
_TIME_KINDS = frozenset({RuleKind.STALE, RuleKind.DURATION_EXCEEDED, RuleKind.DEADLINE_MISSED})


@dataclass(frozen=True)
class Rule:
    """One configured rule; the parameter its kind needs is set, the others are None."""

    alert: str
    kind: RuleKind
    severity: Severity = Severity.WARNING
    matchers: tuple[Matcher, ...] = ()
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    threshold_seconds: float | None = None
    count: int | None = None
    for_seconds: float | None = None
    deadline_seconds: float | None = None

    def applies(self, job: str, info: JobInfo, task: str | None = None) -> bool:
        """True when the rule's matchers accept this job (and task)."""
        if not self.matchers:
            return True
        labels = _job_labels(job, info)
        if task:
            labels = {**labels, "task": task}
        return matches_all(self.matchers, labels)


@dataclass(frozen=True)
class Finding:
    """A rule's verdict on one job (or task): fire with these fields, or resolve.

    A resolve with ``task`` None resolves the rule's alerts for every task of the job.
    """

    rule: Rule
    job: str
    at: datetime
    firing: bool
    task: str | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)


class RuleSet:
    """The configured rules, indexed by the events that concern them."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules = tuple(rules)
        self._by_kind: dict[RuleKind, list[Rule]] = defaultdict(list)
        for rule in self.rules:
            self._by_kind[rule.kind].append(rule)
        self._success_resolves = [r for r in self.rules if r.kind in _RESOLVED_BY_SUCCESS]
        self.has_time_rules = any(r.kind in _TIME_KINDS for r in self.rules)

    def _of(self, *kinds: RuleKind) -> list[Rule]:
        found: list[Rule] = []
        for kind in kinds:
            found.extend(self._by_kind.get(kind, ()))
        return found

    def on_event(
        self, event: Event, facts: JobFacts, info: JobInfo, *, resolvable: bool = True
    ) -> list[Finding]:
        """Findings for one event; ``facts`` must already include it.

        ``resolvable`` False (no alert of the job fires) skips building resolves.
        """
        handler = _HANDLERS.get(type(event))
        return handler(self, event, facts, info, resolvable) if handler else []

    def on_tick(
        self, now: datetime, facts: Mapping[str, JobFacts], infos: Mapping[str, JobInfo]
    ) -> list[Finding]:
        """Findings of the time-based rules at ``now``."""
        found: list[Finding] = []
        epoch = now.timestamp()
        for job, job_facts in facts.items():
            info = infos.get(job, JobInfo())
            if info.paused:
                continue
            for rule in self._of(RuleKind.STALE):
                baseline = job_facts.last_success_at or job_facts.first_seen_at
                assert rule.for_seconds is not None
                stale = baseline is not None and epoch - baseline > rule.for_seconds
                if stale and rule.applies(job, info):
                    fields = {
                        "for": format_duration(rule.for_seconds),
                        "last_success_at": _iso(job_facts.last_success_at),
                    }
                    found.append(Finding(rule, job, now, True, fields=fields))
            for run_id, run in job_facts.open_runs.items():
                found.extend(self._tick_run(now, job, int(run_id), run, info))
        return found

    def _tick_run(
        self, now: datetime, job: str, run_id: int, run: OpenRun, info: JobInfo
    ) -> list[Finding]:
        found: list[Finding] = []
        epoch = now.timestamp()
        for rule in self._of(RuleKind.DURATION_EXCEEDED):
            assert rule.threshold_seconds is not None
            started = run.started_at
            if started is not None and epoch - started > rule.threshold_seconds:
                if not rule.applies(job, info):
                    continue
                fields = _run_fields(run_id, epoch - started, rule)
                found.append(Finding(rule, job, now, True, fields=fields))
        for rule in self._of(RuleKind.DEADLINE_MISSED):
            assert rule.deadline_seconds is not None
            if run.logical_time is not None:
                deadline = run.logical_time + rule.deadline_seconds
                if epoch > deadline and rule.applies(job, info):
                    fields = {
                        "run_id": run_id,
                        "logical_time": _iso(run.logical_time),
                        "deadline": _iso(deadline),
                    }
                    found.append(Finding(rule, job, now, True, fields=fields))
        return found

    # -- event handlers -------------------------------------------------------------------

    def _run_succeeded(
        self, event: Event, facts: JobFacts, info: JobInfo, resolvable: bool
    ) -> list[Finding]:
        assert isinstance(event, RunSucceeded)
        found = []
        if resolvable:
            found = [Finding(r, event.job, event.at, False) for r in self._success_resolves]
        found.extend(self._duration(event, event.duration_seconds, info, resolvable))
        return found

    def _run_failed(
        self, event: Event, facts: JobFacts, info: JobInfo, resolvable: bool
    ) -> list[Finding]:
        assert isinstance(event, RunFailed)
        fields: dict[str, Any] = {
            "run_id": event.run_id,
            "reason": event.reason,
            "failed_tasks": ", ".join(event.failed_tasks),
            "duration": format_duration(event.duration_seconds),
            "task": event.failed_tasks[0] if event.failed_tasks else None,
            "consecutive_failures": facts.consecutive_failures,
        }
        fields.update({k: v for k, v in facts.last_failure.items() if v is not None})
        found = [
            Finding(rule, event.job, event.at, True, fields=fields)
            for rule in self._of(RuleKind.RUN_FAILED)
            if rule.applies(event.job, info)
        ]
        for rule in self._of(RuleKind.CONSECUTIVE_FAILURES):
            assert rule.count is not None
            if facts.consecutive_failures >= rule.count and rule.applies(event.job, info):
                found.append(Finding(rule, event.job, event.at, True, fields=fields))
        if resolvable:
            found.extend(self._run_ended(event))
        found.extend(self._duration(event, event.duration_seconds, info, resolvable))
        return found

    def _run_ended(self, event: Event) -> list[Finding]:
        return [Finding(r, event.job, event.at, False) for r in self._of(RuleKind.RUN_OVERDUE)]

    def _run_cancelled(
        self, event: Event, facts: JobFacts, info: JobInfo, resolvable: bool
    ) -> list[Finding]:
        return self._run_ended(event) if resolvable else []

    def _duration(
        self, event: Event, duration: float, info: JobInfo, resolvable: bool
    ) -> list[Finding]:
        found = []
        for rule in self._of(RuleKind.DURATION_EXCEEDED):
            assert rule.threshold_seconds is not None
            slow = duration > rule.threshold_seconds
            if (slow and not rule.applies(event.job, info)) or (not slow and not resolvable):
                continue
            fields = _run_fields(event.run_id, duration, rule) if slow else {}
            found.append(Finding(rule, event.job, event.at, slow, fields=fields))
        return found

    def _run_started(
        self, event: Event, facts: JobFacts, info: JobInfo, resolvable: bool
    ) -> list[Finding]:
        if not resolvable:
            return []
        return [Finding(r, event.job, event.at, False) for r in self._of(RuleKind.RUN_MISSED)]

    def _run_missed(
        self, event: Event, facts: JobFacts, info: JobInfo, resolvable: bool
    ) -> list[Finding]:
        assert isinstance(event, RunMissed)
        fields = {"expected_at": event.expected_at}
        return [
            Finding(rule, event.job, event.at, True, fields=fields)
            for rule in self._of(RuleKind.RUN_MISSED)
            if rule.applies(event.job, info)
        ]

    def _run_overdue(
        self, event: Event, facts: JobFacts, info: JobInfo, resolvable: bool
    ) -> list[Finding]:
        assert isinstance(event, RunOverdue)
        fields = {"run_id": event.run_id, "expected": format_duration(event.expected_seconds)}
        return [
            Finding(rule, event.job, event.at, True, fields=fields)
            for rule in self._of(RuleKind.RUN_OVERDUE)
            if rule.applies(event.job, info)
        ]

    def _attempt_failed(
        self, event: Event, facts: JobFacts, info: JobInfo, resolvable: bool
    ) -> list[Finding]:
        assert isinstance(event, AttemptFailed | AttemptTimedOut)
        if event.will_retry:
            return []
        fields = {
            "run_id": event.run_id,
            "task": event.task,
            "attempt": event.attempt,
            "exit_code": event.exit_code,
            "signal": event.signal,
            "reason": event.reason,
            "error": _tail(event.error),
            "timed_out": isinstance(event, AttemptTimedOut),
        }
        kinds = [RuleKind.TASK_FAILED]
        if (event.attempt or 1) > 1:
            kinds.append(RuleKind.RETRIES_EXHAUSTED)
        return [
            Finding(rule, event.job, event.at, True, task=event.task, fields=fields)
            for rule in self._of(*kinds)
            if rule.applies(event.job, info, event.task)
        ]

    def _attempt_succeeded(
        self, event: Event, facts: JobFacts, info: JobInfo, resolvable: bool
    ) -> list[Finding]:
        if not resolvable:
            return []
        return [
            Finding(rule, event.job, event.at, False, task=event.task)
            for rule in self._of(*TASK_KINDS)
        ]


_HANDLERS = {
    RunSucceeded: RuleSet._run_succeeded,
    RunFailed: RuleSet._run_failed,
    RunCancelled: RuleSet._run_cancelled,
    RunStarted: RuleSet._run_started,
    RunMissed: RuleSet._run_missed,
    RunOverdue: RuleSet._run_overdue,
    AttemptFailed: RuleSet._attempt_failed,
    AttemptTimedOut: RuleSet._attempt_failed,
    AttemptSucceeded: RuleSet._attempt_succeeded,
}


@lru_cache(maxsize=4096)
def _job_labels(job: str, info: JobInfo) -> dict[str, str]:
    return info.labels(job)


ERROR_TAIL_CHARS = 1000
"""How much of an error or output tail an alert carries."""


def _tail(text: str | None) -> str | None:
    if not text:
        return None
    return text[-ERROR_TAIL_CHARS:]


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else from_epoch(epoch).isoformat()


def _run_fields(run_id: int | None, seconds: float, rule: Rule) -> dict[str, Any]:
    assert rule.threshold_seconds is not None
    return {
        "run_id": run_id,
        "duration": format_duration(seconds),
        "threshold": format_duration(rule.threshold_seconds),
    }
