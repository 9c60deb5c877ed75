"""Crontab import: a crontab becomes a jobs file and a crontab whose lines run `wrap`.

``import_crontab(text, system=...)`` parses a user crontab (or, with ``system=True``, the
``/etc/crontab`` format with a user column) and returns both files' text. Everything
cron accepts is understood — comments, blank lines, environment assignments, ``@reboot``
and the other macros, the ``%`` rule — and what cannot be parsed is kept unchanged
with a comment saying why.
"""

from __future__ import annotations

from runner.crontab.lines import (
    Assignment,
    CronJob,
    Line,
    Unparsable,
    Verbatim,
    parse_crontab,
)
from runner.crontab.naming import job_names
from runner.crontab.rendering import CrontabImport, import_crontab

__all__ = [
    "Assignment",
    "CronJob",
    "CrontabImport",
    "Line",
    "Unparsable",
    "Verbatim",
    "import_crontab",
    "job_names",
    "parse_crontab",
]
