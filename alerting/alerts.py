"""Alerts: identity (fingerprint), the firing → resolved state machine, and flapping.

An alert is identified by a fingerprint of its identifying labels (alertname, severity,
job, task, and the rule's own labels); the job's descriptive labels (``owner``, ``tags``)
ride along. Per-run facts (run id, attempt, exit code, error tail, links) are never
labels: they are the alert's ``details``, replaced by every finding and so refreshed on
every notification, and receivers that speak Alertmanager's wire format get them as
annotations (``notification.run_annotations``). So three failed runs of a job are one
alert, with one label set, whatever ``group_by`` says.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from alerting.job_facts import JobInfo
from alerting.rules import Finding, RuleKind
from alerting.templates import render
from runner.store.alerts import AlertState

IDENTIFYING = ("alertname", "severity", "job", "task")
"""Labels that (with the finding's and the rule's own labels) make up an alert's identity."""

DEFAULT_SUMMARIES = {
    RuleKind.RUN_FAILED: "job {job} failed (run {run_id})",
    RuleKind.TASK_FAILED: "task {task} of job {job} failed (attempt {attempt})",
    RuleKind.CONSECUTIVE_FAILURES: "job {job} failed {consecutive_failures} times in a row",
    RuleKind.DURATION_EXCEEDED: "job {job} ran longer than {threshold} (run {run_id}: {duration})",
    RuleKind.DEADLINE_MISSED: "job {job} had not succeeded by {deadline} (run {run_id})",
    RuleKind.RUN_MISSED: "job {job} did not start (expected at {expected_at})",
    RuleKind.RUN_OVERDUE: "job {job} runs longer than expected ({expected})",
    RuleKind.STALE: "job {job} has not succeeded for {for}",
    RuleKind.RETRIES_EXHAUSTED: "task {task} of job {job} failed after {attempt} attempts",
    RuleKind.DATASET_STALE: (
        "dataset {namespace}/{dataset} has not been updated for {for} (by {job}/{task})"
    ),
}

_ENRICHMENT = frozenset({"trace_id", "trace_url", "error"})
"""Details that ``prepare`` may add; a finding that differs only there changes nothing."""

Enricher = Callable[[str, Mapping[str, Any]], Mapping[str, Any]]
"""Adds details (trace id, output tail) to an alert about to be sent: (job, fields) -> extra."""


def fingerprint(identity: Mapping[str, str]) -> str:
    """A stable 16-hex-digit id of an alert's identifying labels."""
    text = "\x1f".join(f"{k}\x1e{v}" for k, v in sorted(identity.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class Alert:
    """One alert (one row per fingerprint; a new firing starts a new episode on it)."""

    fingerprint: str
    alertname: str
    severity: str
    job: str
    state: AlertState
    labels: dict[str, str]
    annotations: dict[str, str]
    details: dict[str, Any]
    starts_at: float
    ends_at: float | None
    updated_at: float
    flapping: bool = False
    firings: list[float] = field(default_factory=list)
    dirty: bool = field(default=False, compare=False)

    @property
    def firing(self) -> bool:
        """True while firing."""
        return self.state is AlertState.FIRING

    @property
    def task(self) -> str | None:
        """The task label, for per-task alerts."""
        return self.labels.get("task")


@dataclass(frozen=True)
class FlapPolicy:
    """An alert that fires more than ``threshold`` times within ``window_seconds`` flaps."""

    threshold: int = 3
    window_seconds: float = 3600.0


class AlertBook:
    """The alerts in memory, changed by findings; ``changed`` lists state changes to route."""

    def __init__(
        self,
        alerts: Iterable[Alert] = (),
        *,
        flap: FlapPolicy | None = None,
        trace_url: str | None = None,
        enrich: Enricher | None = None,
    ) -> None:
        self.alerts: dict[str, Alert] = {}
        self._by_job: dict[tuple[str, str], set[str]] = defaultdict(set)
        self.flap = flap or FlapPolicy()
        self.trace_url = trace_url
        self.enrich = enrich
        self.changed: list[Alert] = []
        # job -> alertname -> how many of its alerts fire; names with none are removed
        self._firing_names: dict[str, Counter[str]] = defaultdict(Counter)
        self.flapping: set[str] = set()
        """Fingerprints of the alerts that flap."""
        self._calm: float | None = None  # the earliest calm-down, None when unknown
        for alert in alerts:
            self._index(alert)
            if alert.flapping:
                self.flapping.add(alert.fingerprint)
            if alert.firing:
                self._count_firing(alert, 1)

    def firing_names(self, job: str) -> Collection[str]:
        """The alert names of ``job`` with a firing alert (so a resolve has work to do)."""
        return self._firing_names.get(job) or ()

    def _count_firing(self, alert: Alert, delta: int) -> None:
        names = self._firing_names[alert.job]
        names[alert.alertname] += delta
        if names[alert.alertname] <= 0:
            del names[alert.alertname]

    def _index(self, alert: Alert) -> None:
        self.alerts[alert.fingerprint] = alert
        self._by_job[(alert.alertname, alert.job)].add(alert.fingerprint)

    def firing(self) -> list[Alert]:
        """Every firing alert."""
        return [a for a in self.alerts.values() if a.firing]

    def apply(self, finding: Finding, info: JobInfo) -> None:
        """Fire or resolve according to a rule's finding."""
        if finding.firing:
            self._fire(finding, info)
        else:
            self._resolve(finding)

    def _fire(self, finding: Finding, info: JobInfo) -> None:
        rule = finding.rule
        identity = {"alertname": rule.alert, "severity": rule.severity.value, "job": finding.job}
        if finding.task:
            identity["task"] = finding.task
        identity.update(finding.labels)
        identity.update(rule.labels)
        fp = fingerprint(identity)
        at = finding.at.timestamp()
        alert = self.alerts.get(fp)
        fields: dict[str, Any] = {**info.labels(finding.job), **identity, **finding.fields}
        if info.runbook:  # the job's own runbook is more specific than the rule's
            fields["runbook_url"] = info.runbook
        new = alert is None or not alert.firing
        labels = {**info.labels(finding.job), **identity}
        templates = {"summary": DEFAULT_SUMMARIES[rule.kind], **rule.annotations}
        annotations = {name: render(text, fields) for name, text in templates.items()}
        details = {k: v for k, v in fields.items() if k not in labels and v is not None}
        if alert is None:
            alert = Alert(
                fp,
                rule.alert,
                rule.severity.value,
                finding.job,
                AlertState.RESOLVED,
                labels,
                annotations,
                details,
                at,
                None,
                at,
            )
            self._index(alert)
        if new:
            alert.state, alert.starts_at, alert.ends_at = AlertState.FIRING, at, None
            self._count_firing(alert, 1)
            alert.firings = [t for t in alert.firings if t > at - self.flap.window_seconds]
            alert.firings.append(at)
            alert.flapping = alert.flapping or len(alert.firings) > self.flap.threshold
            if alert.flapping:
                self.flapping.add(fp)
                self._calm = None
            self.changed.append(alert)
        elif (labels, annotations, _own(details)) == (
            alert.labels,
            alert.annotations,
            _own(alert.details),
        ):
            return
        alert.labels, alert.annotations, alert.details = labels, annotations, details
        alert.updated_at = at
        alert.dirty = True

    def prepare(self, alert: Alert) -> None:
        """Add the run's trace id (and link) and a missing output tail to an alert about to
        be notified; done here rather than on every firing, as most are never sent."""
        run_id = alert.details.get("run_id")
        if self.enrich is None or not isinstance(run_id, int):
            return
        if alert.details.get("facts_of_run") == run_id:
            return
        fields = {**alert.labels, **alert.details}
        extra = {k: v for k, v in self.enrich(alert.job, fields).items() if v is not None}
        if extra.get("trace_id") and self.trace_url:
            extra["trace_url"] = render(self.trace_url, {**fields, **extra})
        alert.details = {**alert.details, **extra, "facts_of_run": run_id}
        alert.dirty = True

    def _resolve(self, finding: Finding) -> None:
        at = finding.at.timestamp()
        for fp in self._by_job.get((finding.rule.alert, finding.job), ()):
            alert = self.alerts[fp]
            if not alert.firing or (finding.task and alert.task != finding.task):
                continue
            if any(alert.labels.get(k) != v for k, v in finding.labels.items()):
                continue
            alert.state, alert.ends_at, alert.updated_at = AlertState.RESOLVED, at, at
            if finding.fields.get("run_id") is not None:
                alert.details = {**alert.details, "recovered_by_run": finding.fields["run_id"]}
            self._count_firing(alert, -1)
            alert.dirty = True
            self.changed.append(alert)

    def next_calm(self) -> float:
        """When the first flapping alert calms down (infinity when none flaps)."""
        if self._calm is None:
            self._calm = min(
                (_calm_at(self.alerts[fp].firings, self.flap) for fp in self.flapping),
                default=math.inf,
            )
        return self._calm

    def tick(self, now: datetime) -> None:
        """End flapping for alerts that calmed down within the flap window, at the moment
        they did (so the outcome does not depend on when the engine looks)."""
        epoch = now.timestamp()
        if self.next_calm() > epoch:
            return
        self._calm = None
        for fp in sorted(self.flapping):
            alert = self.alerts[fp]
            calm = _calm_at(alert.firings, self.flap)
            if calm > epoch:
                continue
            alert.firings = [t for t in alert.firings if t > epoch - self.flap.window_seconds]
            alert.flapping = False
            self.flapping.discard(fp)
            alert.updated_at = max(calm, alert.updated_at)
            alert.dirty = True
            self.changed.append(alert)


def _calm_at(firings: list[float], flap: FlapPolicy) -> float:
    """When an alert with these firing times stops flapping: once no more than
    ``threshold`` of them fall within the window."""
    if len(firings) <= flap.threshold:
        return float("-inf")
    return sorted(firings)[-(flap.threshold + 1)] + flap.window_seconds


def _own(details: Mapping[str, Any]) -> dict[str, Any]:
    """Details without what ``prepare`` may have added."""
    return {k: v for k, v in details.items() if k not in _ENRICHMENT}
