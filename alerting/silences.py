"""Silences: stored, expiring matcher sets whose alerts are recorded but not sent; and
maintenance windows, the recurring silences of the config (cron + duration)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from alerting.matchers import Matcher, matches_all, parse_matcher
from runner import cron
from runner.store import silences as stored
from runner.store.records import from_epoch

if TYPE_CHECKING:
    from runner.store.store import Store


@dataclass(frozen=True)
class Silence:
    """A stored silence: alerts matching every matcher are not sent until ``ends_at``."""

    id: int
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    author: str
    comment: str
    created_at: datetime

    def active(self, now: datetime) -> bool:
        """True while the silence applies."""
        return self.starts_at <= now < self.ends_at

    def mutes(self, labels: Mapping[str, str], now: datetime) -> bool:
        """True when this silence mutes an alert with ``labels`` at ``now``."""
        return self.active(now) and matches_all(self.matchers, labels)


@dataclass(frozen=True)
class MaintenanceWindow:
    """A recurring silence: from each fire time of ``schedule``, for ``duration_seconds``."""

    name: str
    schedule: str
    duration_seconds: float
    matchers: tuple[Matcher, ...] = ()
    timezone: str = "UTC"

    def active(self, now: datetime) -> bool:
        """True when ``now`` falls in a window that started at a fire time of the schedule."""
        local = now.astimezone(ZoneInfo(self.timezone))
        # the latest fire time at or before now (earlier ones are strictly before the start)
        fires = cron.fire_times(self.schedule, local + timedelta(seconds=1), forward=False)
        start = next(fires, None)
        return start is not None and local < start + timedelta(seconds=self.duration_seconds)

    def mutes(self, labels: Mapping[str, str], now: datetime) -> bool:
        """True when this window mutes an alert with ``labels`` at ``now``."""
        return matches_all(self.matchers, labels) and self.active(now)


def add_silence(
    store: Store,
    matchers: Sequence[Matcher],
    starts_at: datetime,
    ends_at: datetime,
    *,
    author: str,
    comment: str,
) -> Silence:
    """Store a silence and return it with its id."""
    text = json.dumps([str(m) for m in matchers])
    silence_id = stored.insert_silence(
        store, text, starts_at, ends_at, author=author, comment=comment
    )
    return Silence(int(silence_id), tuple(matchers), starts_at, ends_at, author, comment, starts_at)


def list_silences(store: Store, *, active_at: datetime | None = None) -> list[Silence]:
    """Stored silences, newest first; with ``active_at``, only those active then."""
    return [
        Silence(
            id=int(r["id"]),
            matchers=tuple(parse_matcher(m) for m in json.loads(r["matchers"])),
            starts_at=from_epoch(r["starts_at"]),
            ends_at=from_epoch(r["ends_at"]),
            author=r["author"],
            comment=r["comment"],
            created_at=from_epoch(r["created_at"]),
        )
        for r in stored.silence_rows(store, active_at=active_at)
    ]
