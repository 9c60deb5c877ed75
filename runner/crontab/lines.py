"""A crontab's lines, read exactly as cron reads them.

Only ``\\n`` ends a line: form feed, ``\\r``, ``\\x1e``, U+2028 and every other character
are ordinary text to cron. A line whose first character other than space or tab is ``#``
is a comment, one with nothing else is blank. Any other line is tried as an assignment
(see :mod:`runner.crontab.assignments`), then as a job: five time fields separated by
spaces or tabs (or an ``@`` word), in a system crontab a user name, then the command —
everything up to the newline, spaces, ``\\r`` and ``#`` included, with cron's ``%`` rule
(:mod:`runner.crontab.percent`). Each job line is split into the text before its command
(kept byte for byte by the rewrite, so cron reads the same times and user) and the
command. A line that cron would ignore, or that crons read differently, is
:class:`Unconvertible`, with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from runner.crontab.assignments import read_assignment
from runner.crontab.fields import FIELDS, MACROS, check_field
from runner.crontab.percent import split_command, stdin_text
from runner.errors import InvalidScheduleError

BLANKS = " \t"
"""The only characters cron skips between fields (its Skip_Blanks)."""
DEFAULT_SHELL = "/bin/sh"
MAX_LINE_BYTES = 999
"""Vixie cron and its heirs keep at most this many bytes of a command or an assignment."""
_USER_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*\$?")
_FIVE_FIELDS = re.compile(r"([^ \t]+)[ \t]+([^ \t]+)[ \t]+([^ \t]+)[ \t]+([^ \t]+)[ \t]+([^ \t]+)")


@dataclass(frozen=True)
class Verbatim:
    """A blank line or a comment, kept as it is."""

    number: int
    text: str


@dataclass(frozen=True)
class Assignment:
    """``NAME=value``: the environment of the jobs below it."""

    number: int
    text: str
    name: str
    value: str


@dataclass(frozen=True)
class CronJob:
    """A job line: when, as whom, what (and what goes to its standard input)."""

    number: int
    text: str
    prefix: str
    """The line up to its command, as written: cron reads times and user from it."""
    timing: str
    """The time fields or the ``@`` word, as written."""
    schedule: str | None
    """The cron expression (a macro such as ``@daily`` included); None for ``@reboot``."""
    raw_command: str
    """The command as written, up to the newline (``%`` and standard input included)."""
    command: str
    """What cron hands to the shell: up to the first free ``%``, ``\\%`` made ``%``."""
    raw_stdin: str | None
    """What follows the first free ``%``, as written (None when there is none)."""
    user: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    """The assignments above the line."""

    @property
    def stdin(self) -> str | None:
        """What cron writes to the command's standard input."""
        return None if self.raw_stdin is None else stdin_text(self.raw_stdin)

    @property
    def shell(self) -> str:
        """The shell cron runs the command with (``SHELL=``, default /bin/sh)."""
        return self.env.get("SHELL") or DEFAULT_SHELL

    @property
    def timezone(self) -> str | None:
        """``CRON_TZ=`` above the line, if any."""
        return self.env.get("CRON_TZ") or None


@dataclass(frozen=True)
class Unconvertible:
    """A line runwatch will not rewrite: kept unchanged, with the reason."""

    number: int
    text: str
    reason: str
    terminated: bool = True
    """False for a last line without its newline."""


Line = Verbatim | Assignment | CronJob | Unconvertible


def split_lines(text: str) -> list[tuple[str, bool]]:
    """Each line and whether a newline ends it: only ``\\n`` ends a line, as in cron."""
    parts = text.split("\n")
    last = parts.pop()
    lines = [(part, True) for part in parts]
    if last:
        lines.append((last, False))
    return lines


def parse_crontab(text: str, *, system: bool = False) -> list[Line]:
    """Every line of a crontab, in order; ``system`` reads the user column."""
    env: dict[str, str] = {}
    unsure: dict[str, int] = {}
    lines: list[Line] = []
    for number, (raw, terminated) in enumerate(split_lines(text), start=1):
        line = _parse_line(number, raw, system, env, terminated)
        if isinstance(line, Assignment):
            env[line.name] = line.value
            unsure.pop(line.name, None)
        elif isinstance(line, Unconvertible) and (reading := _assignment_names(raw)):
            unsure.update(dict.fromkeys(reading, number))
        elif isinstance(line, CronJob):
            line = _checked_environment(line, unsure)
        lines.append(line)
    return lines


def _assignment_names(raw: str) -> set[str]:
    """The names a line assigns under any cron's reading (empty if none)."""
    reading = read_assignment(raw.lstrip(BLANKS))
    return {found[0] for found in (reading.isc, reading.vixie) if found is not None}


def _checked_environment(job: CronJob, unsure: Mapping[str, int]) -> Line:
    for name in ("SHELL", "CRON_TZ", "BASH_ENV"):
        if name in unsure:
            return Unconvertible(
                job.number,
                job.text,
                f"depends on {name}, which line {unsure[name]} sets in a way crons read "
                "differently",
            )
    if "BASH_ENV" in job.env:
        return Unconvertible(
            job.number, job.text, "BASH_ENV is set: wrapped, the shell would read it twice"
        )
    return job


def _parse_line(
    number: int, raw: str, system: bool, env: Mapping[str, str], terminated: bool
) -> Line:
    body = raw.lstrip(BLANKS)
    if not body or body.startswith("#"):
        return Verbatim(number, raw)
    if len(body.encode()) > MAX_LINE_BYTES:
        return Unconvertible(
            number,
            raw,
            f"the line is {len(body.encode())} bytes; some crons read only the first "
            f"{MAX_LINE_BYTES} of it",
            terminated,
        )
    reading = read_assignment(body)
    if reading.is_assignment:
        agreed = reading.agreed
        if agreed is None:
            return Unconvertible(number, raw, reading.disagreement(), terminated)
        return Assignment(number, raw, *agreed)
    try:
        job = _parse_job(number, raw, system, env)
    except ValueError as exc:
        hint = " (it holds a carriage return: Windows line endings?)" if "\r" in raw else ""
        return Unconvertible(number, raw, f"cron ignores this line: {exc}{hint}", terminated)
    if not terminated:
        return Unconvertible(
            number, raw, "cron ignores a last line without a newline at its end", False
        )
    return job


def _parse_job(number: int, raw: str, system: bool, env: Mapping[str, str]) -> CronJob:
    start = len(raw) - len(raw.lstrip(BLANKS))
    timing, schedule, end = _timing(raw, start)
    rest_at = _skip_blanks(raw, end)
    if rest_at == len(raw):
        raise ValueError("no command after the time fields")
    if raw[rest_at] == "*":
        raise ValueError("a sixth time field: the command starts with '*'")
    user = None
    if system:
        user_end = _next_blank(raw, rest_at)
        user = raw[rest_at:user_end]
        if not _USER_NAME.fullmatch(user):
            raise ValueError(f"expected a user name after the time fields, found {user!r}")
        rest_at = _skip_blanks(raw, user_end)
        if rest_at == len(raw):
            raise ValueError(f"no command after the user name {user!r}")
    raw_command = raw[rest_at:]
    command, raw_stdin = split_command(raw_command)
    return CronJob(
        number=number,
        text=raw,
        prefix=raw[:rest_at],
        timing=timing,
        schedule=schedule,
        raw_command=raw_command,
        command=command,
        raw_stdin=raw_stdin,
        user=user,
        env=dict(env),
    )


def _timing(raw: str, start: int) -> tuple[str, str | None, int]:
    """The timing as written, the schedule it means, and where it ends."""
    if raw.startswith("-", start):
        raise ValueError("a leading '-' (cronie's no-log flag) is not read alike by every cron")
    if raw.startswith("@", start):
        end = _next_blank(raw, start)
        word = raw[start + 1 : end]
        if word not in MACROS:
            known = ", ".join(f"@{name}" for name in MACROS)
            raise ValueError(f"unknown time specifier '@{word}' (cron knows {known})")
        return raw[start:end], None if word == "reboot" else f"@{word}", end
    found = _FIVE_FIELDS.match(raw, start)
    if found is None:
        raise ValueError("expected five time fields (or a macro such as @daily) and a command")
    for spec, token in zip(FIELDS, found.groups(), strict=True):
        check_field(spec, token)
    expression = " ".join(found.groups())
    return raw[start : found.end()], _checked_schedule(expression), found.end()


def _checked_schedule(expression: str) -> str:
    from runner.scheduling.schedule import validate_schedule

    try:
        validate_schedule(expression)
    except InvalidScheduleError as exc:
        raise ValueError(f"runwatch cannot read the schedule: {exc}") from None
    return expression


def _skip_blanks(raw: str, index: int) -> int:
    while index < len(raw) and raw[index] in BLANKS:
        index += 1
    return index


def _next_blank(raw: str, index: int) -> int:
    while index < len(raw) and raw[index] not in BLANKS:
        index += 1
    return index
