"""Parsing crontab lines as cron reads them.

A line is blank, a comment, an environment assignment (``NAME = value``, the value
optionally quoted), or a job: five time fields or a macro (``@daily``, ``@reboot`` …),
in a system crontab a user name, then the command. In the command an unescaped ``%``
ends the command: what follows is the command's standard input, each further ``%`` a
newline; ``\\%`` is a literal ``%``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from runner.errors import InvalidScheduleError

MACROS = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
REBOOT = "@reboot"
DEFAULT_SHELL = "/bin/sh"

_ASSIGNMENT = re.compile(r"^\s*(?P<name>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?P<value>.*?)\s*$")
_QUOTED_NAME = re.compile(r"""^\s*(?P<q>['"])(?P<name>[^'"]+)(?P=q)\s*=\s*(?P<value>.*?)\s*$""")
_FIVE_FIELDS = re.compile(r"^\s*(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)(?:\s+(.*))?$")
_MACRO = re.compile(r"^\s*(@\S+)(?:\s+(.*))?$")
_USER = re.compile(r"^(\S+)(?:\s+(.*))?$")


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
    timing: str
    """The time fields or the macro, as written."""
    schedule: str | None
    """The cron expression (a macro such as ``@daily`` included); None for ``@reboot``."""
    command: str
    """The command as cron hands it to the shell (``%`` rule applied)."""
    raw_command: str
    """The command as written, up to the first unescaped ``%`` (``\\%`` kept)."""
    stdin: str | None
    raw_stdin: str | None
    """What follows the first unescaped ``%``, as written."""
    user: str | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    """The assignments above the line."""

    @property
    def shell(self) -> str:
        """The shell cron runs the command with (``SHELL=``, default /bin/sh)."""
        return self.env.get("SHELL") or DEFAULT_SHELL

    @property
    def timezone(self) -> str | None:
        """``CRON_TZ=`` above the line, if any."""
        return self.env.get("CRON_TZ") or None


@dataclass(frozen=True)
class Unparsable:
    """A line cron may run but runwatch cannot read: kept unchanged, with the reason."""

    number: int
    text: str
    reason: str


Line = Verbatim | Assignment | CronJob | Unparsable


def parse_crontab(text: str, *, system: bool = False) -> list[Line]:
    """Every line of a crontab, in order; ``system`` reads the user column."""
    env: dict[str, str] = {}
    lines: list[Line] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _parse_line(number, raw, system, env)
        if isinstance(line, Assignment):
            env[line.name] = line.value
        lines.append(line)
    return lines


def _parse_line(number: int, raw: str, system: bool, env: Mapping[str, str]) -> Line:
    stripped = raw.strip()
    if not stripped or stripped.startswith("#"):
        return Verbatim(number, raw)
    assignment = _ASSIGNMENT.match(raw) or _QUOTED_NAME.match(raw)
    if assignment and not stripped.startswith("@"):
        return Assignment(number, raw, assignment["name"], _unquote(assignment["value"]))
    try:
        return _parse_job(number, raw, system, env)
    except ValueError as exc:
        return Unparsable(number, raw, str(exc))


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _parse_job(number: int, raw: str, system: bool, env: Mapping[str, str]) -> CronJob:
    macro = _MACRO.match(raw)
    if macro:
        timing, rest = macro[1], macro[2] or ""
        schedule = _macro_schedule(timing)
    else:
        fields = _FIVE_FIELDS.match(raw)
        if fields is None:
            raise ValueError("expected five time fields (or a macro such as @daily) and a command")
        timing = " ".join(fields.groups()[:5])
        rest = fields[6] or ""
        schedule = _checked_schedule(timing)
    user = None
    if system:
        found = _USER.match(rest.strip())
        if found is None:
            raise ValueError("expected a user name and a command after the time fields")
        user, rest = found[1], found[2] or ""
    raw_command, raw_stdin = split_percent(rest.strip())
    if not raw_command.strip():
        raise ValueError("no command after the time fields")
    return CronJob(
        number=number,
        text=raw,
        timing=timing,
        schedule=schedule,
        command=unescape_percent(raw_command),
        raw_command=raw_command,
        stdin=None if raw_stdin is None else stdin_text(raw_stdin),
        raw_stdin=raw_stdin,
        user=user,
        env=dict(env),
    )


def _macro_schedule(macro: str) -> str | None:
    lowered = macro.lower()
    if lowered == REBOOT:
        return None
    if lowered not in MACROS:
        known = ", ".join(sorted(MACROS | {REBOOT}))
        raise ValueError(f"unknown macro {macro!r} (cron knows {known})")
    return lowered


def _checked_schedule(expr: str) -> str:
    from runner.schedule import validate_schedule

    try:
        validate_schedule(expr)
    except InvalidScheduleError as exc:
        raise ValueError(str(exc)) from None
    return expr


def split_percent(command: str) -> tuple[str, str | None]:
    """The command up to the first unescaped ``%``, and what follows it (None if none)."""
    index = 0
    while index < len(command):
        char = command[index]
        if char == "\\" and command[index + 1 : index + 2] == "%":
            index += 2
            continue
        if char == "%":
            return command[:index], command[index + 1 :]
        index += 1
    return command, None


def unescape_percent(text: str) -> str:
    """``\\%`` → ``%``, as cron does before running the command."""
    return text.replace("\\%", "%")


def stdin_text(raw: str) -> str:
    """What cron writes to the command's standard input: ``%`` → newline, ``\\%`` → ``%``."""
    parts = []
    index = 0
    while index < len(raw):
        char = raw[index]
        if char == "\\" and raw[index + 1 : index + 2] == "%":
            parts.append("%")
            index += 2
            continue
        parts.append("\n" if char == "%" else char)
        index += 1
    return "".join(parts)
