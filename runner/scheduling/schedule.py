"""Cron schedules: checking expressions and timezones, and computing fire times across DST."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice

from runner import cron
from runner.config_fields import close_match
from runner.errors import InvalidScheduleError
from runner.model import DstPolicy, Job, RepeatedTime, SkippedTime

_ALIASES = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
_FIELDS = (
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day of month", "1-31 or L"),
    ("month", "1-12 or jan-dec"),
    ("day of week", "0-7 or sun-sat"),
    ("second", "0-59"),
)


def validate_schedule(expr: str) -> None:
    """Raise InvalidScheduleError unless ``expr`` is a cron expression ``runner.cron`` can run.

    Accepted: 5 fields (minute hour day-of-month month day-of-week), 6 fields (a
    trailing seconds field), or an alias such as ``@daily``. An expression that
    parses but never fires (``0 0 31 2 *``) is rejected too.
    """
    if not isinstance(expr, str) or not expr.strip():
        raise InvalidScheduleError(f"expected a cron expression such as '0 2 * * *', got {expr!r}")
    text = expr.strip()
    fields = text.split()
    if text.startswith("@"):
        if text.lower() not in _ALIASES:
            known = ", ".join(sorted(_ALIASES))
            raise InvalidScheduleError(
                f"schedule {expr!r}: unknown alias (expected one of {known})"
            )
    elif len(fields) not in (5, 6):
        raise InvalidScheduleError(
            f"schedule {expr!r}: expected 5 fields (minute hour day-of-month month day-of-week)"
            f" or 6 (with seconds last), got {len(fields)}"
        )
    if not cron.parses(text):
        raise InvalidScheduleError(f"schedule {expr!r}: {_bad_field(fields)}")
    if next(cron.fire_times(text, datetime.now(UTC)), None) is None:
        raise InvalidScheduleError(f"schedule {expr!r}: never fires (no such date)")


def _bad_field(fields: list[str]) -> str:
    """Say which field of an expression croniter rejects, trying each one on its own."""
    for index, value in enumerate(fields):
        probe = ["*"] * len(fields)
        probe[index] = value
        if not cron.parses(" ".join(probe)):
            name, allowed = _FIELDS[index]
            return f"{name} field {value!r} is invalid (expected {allowed}, lists, ranges, steps)"
    return "the fields do not combine into a valid expression"


def validate_timezone(name: object) -> None:
    """Raise InvalidScheduleError unless ``name`` is an IANA timezone such as ``Europe/Berlin``."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

    if not isinstance(name, str) or not name:
        raise InvalidScheduleError(
            f"expected an IANA timezone such as 'Europe/Berlin', got {name!r}"
        )
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        close = close_match(name, sorted(available_timezones()))
        hint = f" (did you mean {close!r}?)" if close else ""
        raise InvalidScheduleError(f"unknown timezone {name!r}{hint}") from None


def check_job_schedule(job: Job) -> None:
    """Raise InvalidScheduleError naming the job and key unless its schedule and timezone
    can be run. Loaders check these keys themselves; a ``runner.model.Job`` built in a
    Python job file has not been checked."""
    key = "schedule"
    try:
        if job.schedule is not None:
            validate_schedule(job.schedule)
        key = "timezone"
        validate_timezone(job.timezone)
    except InvalidScheduleError as exc:
        raise InvalidScheduleError(f"{job.source}: job {job.name!r}, key {key!r}: {exc}") from None


@functools.lru_cache(maxsize=4096)
def runnable(expr: str, timezone: str) -> bool:
    """True when ``expr`` in ``timezone`` can be scheduled (stored values may not be: a
    ``runner.model.Job`` built in Python skips the loaders' checks)."""
    try:
        validate_schedule(expr)
        validate_timezone(timezone)
    except InvalidScheduleError:
        return False
    return True


_MAX_STEPS = 100_000
_SAFE_SPAN = timedelta(hours=3)  # more than any UTC offset change at a transition


@dataclass(frozen=True)
class FireTime:
    """One moment a schedule fires: the UTC instant and the wall-clock time it stands for.

    ``shifted`` says how a daylight-saving transition moved it: ``"gap"`` when the wall
    time did not exist and the run moved to the first valid instant after the gap,
    ``"repeat"`` for the second occurrence of a wall time that happened twice.
    """

    at: datetime
    wall: datetime
    shifted: str | None = None


class Schedule:
    """A cron expression in a timezone with an explicit daylight-saving policy.

    The expression is evaluated on local wall-clock time. Then, at transitions:

    - schedules whose hour field is ``*`` (hourly, every N minutes, every second) follow
      elapsed time, as cron does: a repeated hour fires twice, a skipped hour not at all;
    - other schedules (fixed hours) follow the job's ``dst`` policy: ``repeated: once``
      fires only the first occurrence (``both``: each), ``skipped: next_valid`` fires at
      the first valid instant after the gap (``skip``: not that day).
    """

    def __init__(self, expr: str, timezone: str = "UTC", dst: DstPolicy | None = None) -> None:
        self.expr = expr
        self._fire_times = cron.fire_times
        from zoneinfo import ZoneInfo  # a job without a schedule never needs it

        self.timezone = timezone
        self.tz = ZoneInfo(timezone)
        self.dst = dst or DstPolicy()
        fields = expr.split()
        hour = "*" if expr.strip().lower() == "@hourly" else (fields[1] if len(fields) > 1 else "")
        self.elapsed = hour.startswith("*")

    def _wall(self, moment: datetime) -> datetime:
        return moment.astimezone(self.tz).replace(tzinfo=None)

    def instants(self, wall: datetime) -> list[FireTime]:
        """The UTC instants one local wall-clock time stands for, under this policy."""
        first = wall.replace(tzinfo=self.tz, fold=0).astimezone(UTC)
        second = wall.replace(tzinfo=self.tz, fold=1).astimezone(UTC)
        if first == second:
            return [FireTime(first, wall)]
        if self._wall(first) == wall and self._wall(second) == wall:  # happens twice
            if self.elapsed or self.dst.repeated is RepeatedTime.BOTH:
                return [FireTime(first, wall), FireTime(second, wall, "repeat")]
            return [FireTime(first, wall)]
        if self.elapsed or self.dst.skipped is SkippedTime.SKIP:  # does not exist
            return []
        return [FireTime(self._end_of_gap(min(first, second), max(first, second)), wall, "gap")]

    def _end_of_gap(self, low: datetime, high: datetime) -> datetime:
        """The transition instant between two UTC instants around a gap (to the second)."""
        offset = low.astimezone(self.tz).utcoffset()
        while (high - low) > timedelta(seconds=1):
            middle = low + (high - low) / 2
            if middle.astimezone(self.tz).utcoffset() == offset:
                low = middle
            else:
                high = middle
        return high.replace(microsecond=0)

    def _shift_near(self, moment: datetime) -> timedelta:
        """How far the UTC offset changes within a few hours of ``moment`` (usually 0)."""
        before = (moment - _SAFE_SPAN).astimezone(self.tz).utcoffset() or timedelta()
        after = (moment + _SAFE_SPAN).astimezone(self.tz).utcoffset() or timedelta()
        return abs(after - before)

    def _margin(self, moment: datetime) -> timedelta:
        # Away from transitions, wall time and instants advance together, so the search
        # starts right at ``moment``. Near one, wall times up to the size of the shift
        # away can map to nearer instants, so those are examined too.
        return self._shift_near(moment) + timedelta(seconds=1)

    def _transition_near(self, moment: datetime) -> datetime | None:
        """The instant the UTC offset changes within a few hours of ``moment``, if it does."""
        if not self._shift_near(moment):
            return None
        return self._end_of_gap(moment - _SAFE_SPAN, moment + _SAFE_SPAN)

    def _first_wall(self, after_wall: datetime) -> datetime:
        found = next(self._fire_times(self.expr, after_wall), None)
        if found is None:
            raise InvalidScheduleError(f"schedule {self.expr!r} does not fire after {after_wall}")
        return found

    def _next_near_transition(self, after: datetime, change: datetime) -> FireTime | None:
        """The next fire time, searched separately on each side of the offset change, so a
        dense schedule costs a few croniter steps rather than an hour of them."""
        before = (change - _SAFE_SPAN).astimezone(self.tz).utcoffset() or timedelta()
        later = (change + _SAFE_SPAN).astimezone(self.tz).utcoffset() or timedelta()
        naive = after.replace(tzinfo=None)
        start = change.replace(tzinfo=None)
        candidates: list[FireTime] = []
        if after < change:  # before the change: instants are wall - before
            wall = self._first_wall(naive + before)
            candidates += [f for f in self.instants(wall) if after < f.at < change]
            # a gap (or repeat) wall right after the change of offset
            wall = self._first_wall(start + before - timedelta(microseconds=1))
            candidates += [f for f in self.instants(wall) if f.at > after]
        wall = self._first_wall(max(naive, start - timedelta(microseconds=1)) + later)
        for _ in range(3):
            fires = [f for f in self.instants(wall) if f.at >= change and f.at > after]
            if fires:
                candidates += fires
                break
            wall = self._first_wall(wall)
        return min(candidates, key=lambda f: f.at) if candidates else None

    def next_after(self, after: datetime) -> FireTime:
        """The first fire time strictly after the instant ``after``."""
        change = self._transition_near(after)
        if change is not None:
            near = self._next_near_transition(after, change)
            if near is not None:
                return near
        walls = self._fire_times(self.expr, self._wall(after) - self._margin(after))
        found: list[FireTime] = []
        for wall in islice(walls, _MAX_STEPS):
            found.extend(f for f in self.instants(wall) if f.at > after)
            if found:
                best = min(found, key=lambda f: f.at)
                if wall >= best.wall + self._shift_near(best.at):
                    return best
        if found:
            return min(found, key=lambda f: f.at)
        raise InvalidScheduleError(f"schedule {self.expr!r} does not fire after {after}")

    def latest_at_or_before(self, moment: datetime) -> FireTime | None:
        """The last fire time at or before the instant ``moment``, if any."""
        walls = self._fire_times(
            self.expr, self._wall(moment) + self._margin(moment), forward=False
        )
        found: list[FireTime] = []
        for wall in islice(walls, _MAX_STEPS):
            found.extend(f for f in self.instants(wall) if f.at <= moment)
            if found:
                best = max(found, key=lambda f: f.at)
                if wall <= best.wall - self._shift_near(best.at):
                    return best
        return max(found, key=lambda f: f.at) if found else None

    def between(self, start: datetime, end: datetime, limit: int | None = None) -> list[FireTime]:
        """Fire times in ``(start, end]``, oldest first, at most ``limit`` of them."""
        times: list[FireTime] = []
        moment = start
        while limit is None or len(times) < limit:
            fire = self.next_after(moment)
            if fire.at > end:
                break
            times.append(fire)
            moment = fire.at
        return times
