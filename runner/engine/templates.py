"""The template values of sensors: ``{{ds}}``, ``{{ts}}``, ``{{params.NAME}}`` and friends.

A sensor's glob, URL and argv items may name them; they are replaced as plain text (in a
URL, percent-encoded), never inside a shell string: a shell-string command and a SQL
query get the same values as environment variables and bind parameters instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from runner.model import Job
from runner.store.records import RunRecord

_FIELD = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}")
NAMES = ("ds", "ds_nodash", "ts", "run_id", "job")
"""The values every template may use, besides ``params.NAME``."""


def unknown(text: str) -> str | None:
    """The first name in ``text`` that is not a template value, or None."""
    for match in _FIELD.finditer(text):
        name = match.group(1)
        param = name.removeprefix("params.")
        if name not in NAMES and not (param != name and param.isidentifier()):
            return name
    return None


def values(job: Job, run: RunRecord) -> dict[str, str]:
    """The template values of a run: its logical date in the job's timezone (``ds``,
    ``ds_nodash``), its logical time (``ts``, ISO 8601), run id, job, and parameters."""
    local = run.logical_time.astimezone(ZoneInfo(job.timezone))
    found = {
        "ds": local.date().isoformat(),
        "ds_nodash": local.strftime("%Y%m%d"),
        "ts": run.logical_time.isoformat(),
        "run_id": str(run.id),
        "job": job.name,
    }
    found.update({f"params.{k}": v for k, v in {**job.params, **run.params}.items()})
    return found


def logical_day(job: Job, run: RunRecord) -> tuple[datetime, datetime]:
    """The logical date of a run, in the job's timezone, as [midnight, next midnight)."""
    zone = ZoneInfo(job.timezone)
    day = run.logical_time.astimezone(zone).date()
    start = datetime.combine(day, time(), zone)
    return start, datetime.combine(day + timedelta(days=1), time(), zone)


def render(
    text: str, known: Mapping[str, str], quote: Callable[[str], str] = lambda value: value
) -> str:
    """``text`` with each template value replaced (through ``quote``); a parameter that
    was not given is left empty."""
    return _FIELD.sub(lambda m: quote(known.get(m.group(1), "")), text)
