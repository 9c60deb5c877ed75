"""The route tree: which receivers an alert goes to, and the group it joins there.

Same semantics as Alertmanager: a route matches when its matchers do; its children are
tried in order and the first match wins unless that child says ``continue``; when no
child matches, the route itself takes the alert. Children inherit grouping and timing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from alerting.matchers import Matcher, matches_all
from alerting.timeintervals import NamedTimeInterval

GROUP_BY_ALL = "..."
"""In ``group_by``: group by every label (each alert alone), as in Alertmanager."""


@dataclass(frozen=True)
class Route:
    """A node of the route tree, with inherited values already filled in."""

    id: str
    receiver: str
    matchers: tuple[Matcher, ...] = ()
    group_by: tuple[str, ...] = ("job",)
    group_wait_seconds: float = 30.0
    group_interval_seconds: float = 300.0
    repeat_interval_seconds: float = 4 * 3600.0
    continue_: bool = False
    routes: tuple[Route, ...] = ()
    mute_time_intervals: tuple[NamedTimeInterval, ...] = ()
    """Not inherited, as in Alertmanager: while one contains now, this route sends nothing."""
    active_time_intervals: tuple[NamedTimeInterval, ...] = ()
    """Not inherited: when set, this route sends only while one of them contains now."""

    def match(self, labels: Mapping[str, str]) -> list[Route]:
        """The routes that take an alert with ``labels`` (empty if this one does not match)."""
        if not matches_all(self.matchers, labels):
            return []
        found: list[Route] = []
        for child in self.routes:
            taken = child.match(labels)
            found.extend(taken)
            if taken and not child.continue_:
                break
        return found or [self]

    def receivers(self, labels: Mapping[str, str]) -> list[str]:
        """The receivers an alert with ``labels`` reaches, in Alertmanager's order."""
        return [route.receiver for route in self.match(labels)]

    def muted_at(self, now: datetime) -> bool:
        """True when this route's time intervals hold its notifications back at ``now``."""
        if any(interval.contains(now) for interval in self.mute_time_intervals):
            return True
        return bool(self.active_time_intervals) and not any(
            interval.contains(now) for interval in self.active_time_intervals
        )

    def walk(self) -> list[Route]:
        """This route and every route below it, depth first."""
        found = [self]
        for child in self.routes:
            found.extend(child.walk())
        return found

    def group_labels(self, labels: Mapping[str, str]) -> dict[str, str]:
        """The labels that name the group an alert joins on this route."""
        if GROUP_BY_ALL in self.group_by:
            return dict(sorted(labels.items()))
        return {name: labels[name] for name in sorted(self.group_by) if labels.get(name)}

    def group_key(self, labels: Mapping[str, str]) -> str:
        """A stable key for (this route, its receiver, the group labels)."""
        parts = [self.id, self.receiver]
        parts += [f"{k}\x1e{v}" for k, v in self.group_labels(labels).items()]
        return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
