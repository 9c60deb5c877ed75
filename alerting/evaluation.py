"""One evaluation step in memory: events → facts → rule findings → alerts → groups →
notifications. The engine runs it on state loaded from the store; replay runs it on
empty state over the history. Both walk the same timeline (``advance``, then
``settle``), so both make the same notifications at the same times."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from alerting.alerts import Alert, AlertBook, Enricher
from alerting.config import AlertingConfig
from alerting.groups import AlertGroup, GroupBook
from alerting.inhibition import is_inhibited
from alerting.job_facts import JobFacts, JobInfo
from alerting.notification import Notification
from alerting.route_muting import flush_unmuted
from alerting.rules import RuleSet
from alerting.silences import Silence
from runner.events import Event
from runner.store.records import from_epoch

_NO_INFO = JobInfo()
_MAX_ROUNDS = 100_000
"""Bound on flushes in one ``settle`` (each moves a group's due time forward)."""


class Evaluator:
    """Rules, alerts and groups over one snapshot of state (mutated in place)."""

    def __init__(
        self,
        config: AlertingConfig,
        *,
        facts: dict[str, JobFacts] | None = None,
        alerts: Iterable[Alert] = (),
        groups: Iterable[AlertGroup] = (),
        infos: Mapping[str, JobInfo] | None = None,
        silences: Sequence[Silence] = (),
        enrich: Enricher | None = None,
        rules: RuleSet | None = None,
    ) -> None:
        self.config = config
        self.rules = rules or RuleSet(config.rules)
        self.facts = facts if facts is not None else {}
        self.infos = infos or {}
        self.silences = silences
        self.book = AlertBook(alerts, flap=config.flap, trace_url=config.trace_url, enrich=enrich)
        receivers = config.receivers.values()
        self.groups = GroupBook(
            config.route,
            groups,
            resend={r.name: s for r in receivers if (s := r.resend_delay_seconds) is not None},
            unresolved=[r.name for r in receivers if not r.send_resolved],
        )
        self.dirty_jobs: set[str] = set()
        self.fired = 0
        self.resolved = 0
        self._ticked_at: datetime | None = None
        self._crossing: float | None = None  # earliest time-rule threshold; None: unknown

    def advance(self, events: Iterable[Event]) -> list[Notification]:
        """Apply events in order; before each, the time-based rules are evaluated and the
        groups due by its time are flushed. Returns the notifications made."""
        found: list[Notification] = []
        for event in events:
            found += self.settle(event.at, before=True)
            self.process([event])
        return found

    def settle(self, now: datetime, *, before: bool = False) -> list[Notification]:
        """Flush every group due by ``now`` (``before``: strictly before it, so events of
        one instant are handled together), in the order of their due times, each at its
        due time; time-based rules are evaluated at each of those times and at ``now``."""
        found: list[Notification] = []
        limit = now.timestamp()

        def pending() -> float | None:
            due = self.groups.next_due()
            late = due is None or due > limit or (before and due == limit)
            return None if late else due

        for _ in range(_MAX_ROUNDS):
            due = pending()
            self._tick_at(now if due is None else from_epoch(due))
            due = pending()
            if due is None:
                break
            found += self.flush_at(from_epoch(due))
        return found

    def _tick_at(self, at: datetime) -> None:
        """Tick only when a threshold or a calm-down may have passed: the outcome is the
        same as ticking at every instant, as findings carry their crossing times."""
        if self._ticked_at == at:
            return
        epoch = at.timestamp()
        if self.rules.has_time_rules and self._crossing is None:
            since = -math.inf if self._ticked_at is None else self._ticked_at.timestamp()
            self._crossing = min(
                (self.rules.next_crossing(f, since) for f in self.facts.values()),
                default=math.inf,
            )
        crossed = self.rules.has_time_rules and epoch > (self._crossing or math.inf)
        if crossed or self.book.next_calm() <= epoch:
            self.tick(at)

    def process(self, events: Iterable[Event]) -> int:
        """Apply events in order (no timers); returns how many there were."""
        count = 0
        for event in events:
            count += 1
            facts = self.facts.get(event.job)
            if facts is None:
                facts = self.facts[event.job] = JobFacts()
            facts.apply(event)
            self.dirty_jobs.add(event.job)
            if self.rules.has_time_rules and self._crossing is not None:
                # facts changed: a threshold of this job may lie anywhere, even behind us
                self._crossing = min(self._crossing, self.rules.next_crossing(facts, -math.inf))
            info = self.infos.get(event.job, _NO_INFO)
            firing = self.book.firing_names(event.job)
            for finding in self.rules.on_event(event, facts, info, firing=firing):
                self.book.apply(finding, info)
        self._route_changes()
        return count

    def tick(self, now: datetime) -> None:
        """Evaluate the time-based rules and flapping at ``now``."""
        self._ticked_at = now
        self._crossing = None
        if self.rules.has_time_rules:
            for job in self.infos:
                if job not in self.facts:
                    self.facts[job] = JobFacts(first_seen_at=now.timestamp())
                    self.dirty_jobs.add(job)
        for finding in self.rules.on_tick(now, self.facts, self.infos):
            self.book.apply(finding, self.infos.get(finding.job, _NO_INFO))
        self.book.tick(now)
        self._route_changes()

    def flush_at(self, at: datetime) -> list[Notification]:
        """Notifications of the groups due by ``at``, made at ``at``."""
        rules = self.config.inhibit_rules
        firing = [(a.fingerprint, a.labels) for a in self.book.firing()] if rules else []

        def muted(alert: Alert, when: datetime) -> bool:
            if any(s.mutes(alert.labels, when) for s in self.silences):
                return True
            if any(w.mutes(alert.labels, when) for w in self.config.maintenance):
                return True
            return is_inhibited(alert.fingerprint, alert.labels, firing, rules)

        return flush_unmuted(
            self.groups,
            at,
            lambda: self.groups.flush_at(
                at.timestamp(), self.book.alerts, muted, self.book.prepare
            ),
        )

    def _route_changes(self) -> None:
        for alert in self.book.changed:
            if alert.firing:
                self.fired += 1
            else:
                self.resolved += 1
            self.groups.touch(alert, alert.updated_at)
        self.book.changed.clear()
