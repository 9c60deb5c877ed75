"""One evaluation step in memory: events → facts → rule findings → alerts → groups →
notifications. The engine runs it on state loaded from the store; replay runs it on
empty state over history."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from alerting.alerts import Alert, AlertBook, Enricher
from alerting.config import AlertingConfig
from alerting.facts import JobFacts, JobInfo
from alerting.groups import AlertGroup, GroupBook
from alerting.inhibition import is_inhibited
from alerting.notification import Notification
from alerting.route_muting import flush_unmuted
from alerting.rules import RuleSet
from alerting.silences import Silence
from runner.events import Event

_NO_INFO = JobInfo()


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
        self.groups = GroupBook(config.route, groups)
        self.dirty_jobs: set[str] = set()
        self.fired = 0
        self.resolved = 0

    def process(self, events: Iterable[Event], now: datetime) -> int:
        """Apply events in order; returns how many there were."""
        count = 0
        for event in events:
            count += 1
            facts = self.facts.get(event.job)
            if facts is None:
                facts = self.facts[event.job] = JobFacts()
            facts.apply(event)
            self.dirty_jobs.add(event.job)
            info = self.infos.get(event.job, _NO_INFO)
            firing = self.book.firing_names(event.job)
            for finding in self.rules.on_event(event, facts, info, firing=firing):
                self.book.apply(finding, info)
        self._route_changes(now)
        return count

    def tick(self, now: datetime) -> None:
        """Evaluate the time-based rules and flapping at ``now``."""
        if self.rules.has_time_rules:
            for job in self.infos:
                if job not in self.facts:
                    self.facts[job] = JobFacts(first_seen_at=now.timestamp())
                    self.dirty_jobs.add(job)
        for finding in self.rules.on_tick(now, self.facts, self.infos):
            self.book.apply(finding, self.infos.get(finding.job, _NO_INFO))
        self.book.tick(now)
        self._route_changes(now)

    def flush(self, now: datetime, *, force: bool = False) -> list[Notification]:
        """Notifications due at ``now`` (``force``: without waiting for group timers)."""
        firing = [(a.fingerprint, a.labels) for a in self.book.firing()]

        def muted(alert: Alert) -> bool:
            if any(s.mutes(alert.labels, now) for s in self.silences):
                return True
            if any(w.mutes(alert.labels, now) for w in self.config.maintenance):
                return True
            return is_inhibited(alert.fingerprint, alert.labels, firing, self.config.inhibit_rules)

        return flush_unmuted(
            self.groups,
            now,
            lambda: self.groups.flush(
                now, self.book.alerts.values(), muted, force=force, prepare=self.book.prepare
            ),
        )

    def _route_changes(self, now: datetime) -> None:
        for alert in self.book.changed:
            if alert.firing:
                self.fired += 1
            else:
                self.resolved += 1
            self.groups.touch(alert, now)
        self.book.changed.clear()
