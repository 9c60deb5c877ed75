"""Times as the viewer sees them: their chosen timezone, calendar days, ages, durations."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

UTC_NAME = "UTC"


def zone_of(name: str | None) -> ZoneInfo:
    """The IANA zone named ``name``; UTC when it is missing or unknown."""
    try:
        return ZoneInfo(name or UTC_NAME)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(UTC_NAME)


@cache
def zone_names() -> tuple[str, ...]:
    """Every IANA zone, UTC first, for the timezone picker."""
    return (UTC_NAME, *sorted(z for z in available_timezones() if z != UTC_NAME))


def start_of_day(now: datetime, zone: str) -> datetime:
    """Midnight of ``now``'s day in ``zone`` (aware)."""
    local = now.astimezone(zone_of(zone))
    return _midnight(local.replace(tzinfo=None), zone)


def day_bounds(now: datetime, zone: str, days: int) -> list[tuple[datetime, datetime]]:
    """The last ``days`` calendar days in ``zone`` (today included), oldest first, as
    (start, end) instants; days around a DST change are 23 or 25 hours long."""
    today = now.astimezone(zone_of(zone)).date()
    bounds = []
    for back in range(days - 1, -1, -1):
        day = datetime.combine(today - timedelta(days=back), datetime.min.time())
        bounds.append((_midnight(day, zone), _midnight(day + timedelta(days=1), zone)))
    return bounds


def _midnight(naive: datetime, zone: str) -> datetime:
    """The instant a naive local midnight stands for (fold=0: the first, if repeated)."""
    return naive.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=zone_of(zone))


def local(moment: datetime | None, zone: str, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """``moment`` in ``zone``, or an empty string."""
    if moment is None:
        return ""
    return moment.astimezone(zone_of(zone)).strftime(fmt)


def local_ms(moment: datetime | None, zone: str, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """``moment`` in ``zone`` to the millisecond (``2024-05-01 14:00:00.125``), or ``""``."""
    if moment is None:
        return ""
    shown = moment.astimezone(zone_of(zone))
    return f"{shown.strftime(fmt)}.{shown.microsecond // 1000:03d}"


def exact_duration_text(seconds: float | None) -> str:
    """An attempt's duration to the millisecond under an hour: ``0.4 ms``, ``850 ms``,
    ``1.534 s``, ``3 min 20.125 s``; as ``duration_text`` from an hour on."""
    if seconds is None:
        return ""
    ms = round(seconds * 1000)
    if ms < 1:
        return f"{seconds * 1000:.1f} ms"
    if ms < 1000:
        return f"{ms} ms"
    if ms < 60_000:
        return f"{ms / 1000:.3f} s"
    if ms < 3_600_000:
        minutes, rest = divmod(ms, 60_000)
        return f"{minutes} min {rest / 1000:.3f} s"
    return duration_text(seconds)


def duration_text(seconds: float | None) -> str:
    """A short human duration: ``850 ms``, ``42 s``, ``3 min 20 s``, ``2 h 5 min``, ``3 d 4 h``."""
    if seconds is None:
        return ""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    whole = round(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def age_text(moment: datetime | None, now: datetime) -> str:
    """How long ago ``moment`` was (``5 min ago``), or ``in 5 min`` for the future."""
    if moment is None:
        return ""
    delta = (now - moment).total_seconds()
    if abs(delta) < 1:
        return "now"
    text = duration_text(abs(delta))
    return f"{text} ago" if delta > 0 else f"in {text}"
