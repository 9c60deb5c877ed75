"""Alert rules: what each rule kind fires on, and what resolves it.

Rules read events and per-job facts and return findings (fire or resolve); they write
nothing. Time-based rules (``stale``, ``duration_exceeded`` while a run is still going,
``deadline_missed``) are evaluated by ``RuleSet.on_tick`` with an injected ``now``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any

from alerting.job_facts import JobFacts, JobInfo, OpenRun
from alerting.matchers import Matcher, matches_all
from runner.durations import format_duration
from runner.events import (
    AttemptFailed,
    AttemptSucceeded,
    AttemptTimedOut,
    DatasetUpdated,
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
    DATASET_STALE = "dataset_stale"


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
_TIME_KINDS = frozenset(
    {
        RuleKind.STALE,
        RuleKind.DURATION_EXCEEDED,
        RuleKind.DEADLINE_MISSED,
        RuleKind.DATASET_STALE,
    }
)
_APPLIES_CACHE_SIZE = 65536


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
    labels: Mapping[str, str] = field(default_factory=dict)
    """Identifying labels of the finding's own (a dataset's ``namespace`` and ``dataset``)."""


class _Every:
    """Contains every name: no knowledge of which alerts fire, so any may be resolved."""

    def __contains__(self, name: object) -> bool:
        return True


EVERY: Container[str] = _Every()
"""For ``RuleSet.on_event``: every rule may have a firing alert to resolve."""


class RuleSet:
    """The configured rules, indexed by the events that concern them."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules = tuple(rules)
        self._by_kind: dict[RuleKind, list[Rule]] = defaultdict(list)
        for rule in self.rules:
            self._by_kind[rule.kind].append(rule)
        self._success_resolves = [r for r in self.rules if r.kind in _RESOLVED_BY_SUCCESS]
        self.has_time_rules = any(r.kind in _TIME_KINDS for r in self.rules)
        # keyed by id(rule): the rules live as long as this set, and a Rule is unhashable
        self._applies_cache: dict[tuple[int, str, JobInfo, str | None], bool] = {}

    def _applies(self, rule: Rule, job: str, info: JobInfo, task: str | None = None) -> bool:
        """``rule.applies``, remembered: the same few jobs meet the same rules all day."""
        key = (id(rule), job, info, task)
        found = self._applies_cache.get(key)
        if found is None:
            if len(self._applies_cache) >= _APPLIES_CACHE_SIZE:
                self._applies_cache.clear()
            found = self._applies_cache[key] = rule.applies(job, info, task)
        return found

    def _of(self, *kinds: RuleKind) -> list[Rule]:
        found: list[Rule] = []
        for kind in kinds:
            found.extend(self._by_kind.get(kind, ()))
        return found

    def on_event(
        self, event: Event, facts: JobFacts, info: JobInfo, *, firing: Container[str] = EVERY
    ) -> list[Finding]:
        """Findings for one event; ``facts`` must already include it.

        ``firing`` holds the names of the job's firing alerts: resolves are built only
        for rules that have one to resolve (the default assumes every rule may).
        """
        handler = _HANDLERS.get(type(event))
        return handler(self, event, facts, info, firing) if handler else []

    def next_crossing(self, facts: JobFacts, since: float) -> float:
        """The earliest threshold at or after ``since`` (epoch seconds) past which a
        time-based rule may fire for a job with these facts; infinity when none."""
        times = []
        for rule in self._of(RuleKind.STALE):
            baseline = facts.last_success_at or facts.first_seen_at
            if baseline is not None and rule.for_seconds is not None:
                times.append(baseline + rule.for_seconds)
        for rule in self._of(RuleKind.DATASET_STALE):
            assert rule.for_seconds is not None
            times.extend(at + rule.for_seconds for _, at in facts.datasets.values())
        for run in facts.open_runs.values():
            for rule in self._of(RuleKind.DURATION_EXCEEDED):
                if run.started_at is not None and rule.threshold_seconds is not None:
                    times.append(run.started_at + rule.threshold_seconds)
            for rule in self._of(RuleKind.DEADLINE_MISSED):
                if run.logical_time is not None and rule.deadline_seconds is not None:
                    times.append(run.logical_time + rule.deadline_seconds)
        return min((t for t in times if t >= since), default=math.inf)

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
                if stale and self._applies(rule, job, info):
                    assert baseline is not None
                    fields = {
                        "for": format_duration(rule.for_seconds),
                        "last_success_at": _iso(job_facts.last_success_at),
                    }
                    at = _crossed(baseline + rule.for_seconds, now)
                    found.append(Finding(rule, job, at, True, fields=fields))
            found.extend(self._tick_datasets(now, job, job_facts, info))
            for run_id, run in job_facts.open_runs.items():
                found.extend(self._tick_run(now, job, int(run_id), run, info))
        return found

    def _tick_datasets(
        self, now: datetime, job: str, facts: JobFacts, info: JobInfo
    ) -> list[Finding]:
        """A dataset the job updates that was not updated for a rule's ``for``: one alert
        per dataset, labelled with it, its namespace and the task producing it (which the
        rule's matchers may name, besides the job's labels)."""
        found: list[Finding] = []
        epoch = now.timestamp()
        for rule in self._of(RuleKind.DATASET_STALE):
            assert rule.for_seconds is not None
            for (namespace, name), (task, at) in facts.datasets.items():
                if epoch - at <= rule.for_seconds:
                    continue
                labels = {"namespace": namespace, "dataset": name}
                if rule.matchers and not matches_all(
                    rule.matchers, {**_job_labels(job, info), "task": task, **labels}
                ):
                    continue
                fields = {"for": format_duration(rule.for_seconds), "last_update_at": _iso(at)}
                crossed = _crossed(at + rule.for_seconds, now)
                found.append(Finding(rule, job, crossed, True, task, fields, labels))
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
                if not self._applies(rule, job, info):
                    continue
                at = _crossed(started + rule.threshold_seconds, now)
                fields = _run_fields(run_id, at.timestamp() - started, rule)
                found.append(Finding(rule, job, at, True, fields=fields))
        for rule in self._of(RuleKind.DEADLINE_MISSED):
            assert rule.deadline_seconds is not None
            if run.logical_time is not None:
                deadline = run.logical_time + rule.deadline_seconds
                if epoch > deadline and self._applies(rule, job, info):
                    fields = {
                        "run_id": run_id,
                        "logical_time": _iso(run.logical_time),
                        "deadline": _iso(deadline),
                    }
                    found.append(Finding(rule, job, _crossed(deadline, now), True, fields=fields))
        return found

    # -- event handlers -------------------------------------------------------------------

    def _run_succeeded(
        self, event: Event, facts: JobFacts, info: JobInfo, firing: Container[str]
    ) -> list[Finding]:
        assert isinstance(event, RunSucceeded)
        found = _resolves(self._success_resolves, event, firing)
        found.extend(self._duration(event, event.duration_seconds, info, firing))
        return found

    def _run_failed(
        self, event: Event, facts: JobFacts, info: JobInfo, firing: Container[str]
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
            if self._applies(rule, event.job, info)
        ]
        for rule in self._of(RuleKind.CONSECUTIVE_FAILURES):
            assert rule.count is not None
            if facts.consecutive_failures >= rule.count and self._applies(rule, event.job, info):
                found.append(Finding(rule, event.job, event.at, True, fields=fields))
        found.extend(self._run_ended(event, firing))
        found.extend(self._duration(event, event.duration_seconds, info, firing))
        return found

    def _run_ended(self, event: Event, firing: Container[str]) -> list[Finding]:
        return _resolves(self._of(RuleKind.RUN_OVERDUE), event, firing)

    def _run_cancelled(
        self, event: Event, facts: JobFacts, info: JobInfo, firing: Container[str]
    ) -> list[Finding]:
        return self._run_ended(event, firing)

    def _duration(
        self, event: Event, duration: float, info: JobInfo, firing: Container[str]
    ) -> list[Finding]:
        found = []
        for rule in self._of(RuleKind.DURATION_EXCEEDED):
            assert rule.threshold_seconds is not None
            slow = duration > rule.threshold_seconds
            if slow and not self._applies(rule, event.job, info):
                continue
            if not slow and rule.alert not in firing:
                continue
            fields = _run_fields(event.run_id, duration, rule) if slow else {}
            found.append(Finding(rule, event.job, event.at, slow, fields=fields))
        return found

    def _run_started(
        self, event: Event, facts: JobFacts, info: JobInfo, firing: Container[str]
    ) -> list[Finding]:
        return _resolves(self._of(RuleKind.RUN_MISSED), event, firing)

    def _run_missed(
        self, event: Event, facts: JobFacts, info: JobInfo, firing: Container[str]
    ) -> list[Finding]:
        assert isinstance(event, RunMissed)
        expected = event.expected_at
        fields = {"expected_at": "" if expected is None else expected.isoformat()}
        return [
            Finding(rule, event.job, event.at, True, fields=fields)
            for rule in self._of(RuleKind.RUN_MISSED)
            if self._applies(rule, event.job, info)
        ]

    def _run_overdue(
        self, event: Event, facts: JobFacts, info: JobInfo, firing: Container[str]
    ) -> list[Finding]:
        assert isinstance(event, RunOverdue)
        fields = {"run_id": event.run_id, "expected": format_duration(event.expected_seconds)}
        return [
            Finding(rule, event.job, event.at, True, fields=fields)
            for rule in self._of(RuleKind.RUN_OVERDUE)
            if self._applies(rule, event.job, info)
        ]

    def _attempt_failed(
        self, event: Event, facts: JobFacts, info: JobInfo, firing: Container[str]
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
            if self._applies(rule, event.job, info, event.task)
        ]

    def _dataset_updated(
        self, event: Event, facts: JobFacts, info: JobInfo, firing: Container[str]
    ) -> list[Finding]:
        assert isinstance(event, DatasetUpdated)
        labels = {"namespace": event.namespace, "dataset": event.name}
        fields = {"run_id": event.run_id}
        return [
            Finding(r, event.job, event.at, False, event.task, fields, labels)
            for r in self._of(RuleKind.DATASET_STALE)
            if r.alert in firing
        ]

    def _attempt_succeeded(
        self, event: Event, facts: JobFacts, info: JobInfo, firing: Container[str]
    ) -> list[Finding]:
        return _resolves(self._of(*TASK_KINDS), event, firing, task=event.task)


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
    DatasetUpdated: RuleSet._dataset_updated,
}


def _resolves(
    rules: Iterable[Rule], event: Event, firing: Container[str], task: str | None = None
) -> list[Finding]:
    """Resolve findings of ``rules``, for those with an alert of the job that fires; they
    carry the run that resolved them."""
    fields = {"run_id": getattr(event, "run_id", None)}
    return [
        Finding(r, event.job, event.at, False, task=task, fields=fields)
        for r in rules
        if r.alert in firing
    ]


@lru_cache(maxsize=4096)
def _job_labels(job: str, info: JobInfo) -> dict[str, str]:
    return info.labels(job)


ERROR_TAIL_CHARS = 1000
"""How much of an error or output tail an alert carries."""


def _tail(text: str | None) -> str | None:
    if not text:
        return None
    return text[-ERROR_TAIL_CHARS:]


def _crossed(epoch: float, now: datetime) -> datetime:
    """When a time-based condition became true: its threshold, not the moment a tick
    noticed it, so the alert's times do not depend on how often the engine ticks."""
    return min(from_epoch(epoch), now)


def _iso(epoch: float | None) -> str | None:
    return None if epoch is None else from_epoch(epoch).isoformat()


def _run_fields(run_id: int | None, seconds: float, rule: Rule) -> dict[str, Any]:
    assert rule.threshold_seconds is not None
    return {
        "run_id": run_id,
        "duration": format_duration(seconds),
        "threshold": format_duration(rule.threshold_seconds),
    }
