"""Crontab import: a crontab becomes a jobs file and a crontab whose lines run `wrap`.

``import_crontab(text, system=...)`` reads a user crontab (or, with ``system=True``, the
``/etc/crontab`` format with a user column) exactly as cron does and returns both files'
text. Each rewritten line runs what cron would have run — the same shell, command and
standard input — through ``runwatch wrap``; a line cron would ignore, or that crons read
differently, is reported and, if kept, kept unchanged.
"""

from __future__ import annotations

from runner.crontab.lines import (
    Assignment,
    CronJob,
    Line,
    Unconvertible,
    Verbatim,
    parse_crontab,
)
from runner.crontab.naming import job_names
from runner.crontab.reading import CrontabTextError, decode_crontab
from runner.crontab.rendering import CrontabImport, Rewrite, import_crontab

__all__ = [
    "Assignment",
    "CronJob",
    "CrontabImport",
    "CrontabTextError",
    "Line",
    "Rewrite",
    "Unconvertible",
    "Verbatim",
    "decode_crontab",
    "import_crontab",
    "job_names",
    "parse_crontab",
]
