"""The two files an import writes: a jobs YAML and the crontab rewritten to use `wrap`.

In the rewritten crontab every job line runs its original command through
``runwatch wrap --job NAME --schedule 'EXPR' --``: a simple command (words only) as it
is, anything with shell syntax (pipes, redirections, ``&&``, variables, quotes …) as
``SHELL -c '…'`` so that wrap sees — and records — the whole of it. A ``%`` and what
follows it stays outside the quotes, where cron still turns it into standard input.
Comments, blank lines and assignments are kept; so are lines that cannot be read, with
a comment saying why.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from runner.crontab.lines import (
    DEFAULT_SHELL,
    REBOOT,
    CronJob,
    Line,
    Unparsable,
    parse_crontab,
)
from runner.crontab.naming import job_names

_SIMPLE = re.compile(r"^[A-Za-z0-9_./:,+=@-]+$")
_CRON_ONLY = ("MAILTO", "MAILFROM", "SHELL", "CRON_TZ", "RANDOM_DELAY", "CONTENT_TYPE")
"""Assignments that configure cron itself rather than the job's environment."""
TAG = "crontab"


@dataclass(frozen=True)
class CrontabImport:
    """The result of an import: both files' text, the jobs found and the lines skipped."""

    jobs_yaml: str
    crontab: str
    names: tuple[str, ...]
    skipped: tuple[Unparsable, ...]


def import_crontab(
    text: str, *, system: bool = False, source: str = "crontab", runwatch: str = "runwatch"
) -> CrontabImport:
    """Import a crontab; ``runwatch`` is how the rewritten lines call runwatch."""
    lines = parse_crontab(text, system=system)
    jobs = [line for line in lines if isinstance(line, CronJob)]
    names = job_names(jobs)
    named = dict(zip((job.number for job in jobs), names, strict=True))
    return CrontabImport(
        jobs_yaml=render_jobs(jobs, names, source),
        crontab=render_crontab(lines, named, source, runwatch),
        names=tuple(names),
        skipped=tuple(line for line in lines if isinstance(line, Unparsable)),
    )


# -- the rewritten crontab --------------------------------------------------------------


def is_simple(command: str) -> bool:
    """True when the command is plain words, the same passed as arguments or to a shell."""
    try:
        words = shlex.split(command)
    except ValueError:
        return False
    return (
        bool(words)
        and " ".join(words) == command.strip()
        and all(map(_SIMPLE.match, words))
        and "=" not in words[0]  # `VAR=value cmd` is an assignment, not a program
    )


def wrapped_command(job: CronJob, name: str, runwatch: str = "runwatch") -> str:
    """The command part of the rewritten line (``%`` and standard input included)."""
    options = [runwatch, "wrap", "--job", name]
    if job.schedule is not None:
        options += ["--schedule", shlex.quote(job.schedule)]
        if job.timezone:
            options += ["--timezone", shlex.quote(job.timezone)]
    raw = job.raw_command.strip()
    if is_simple(job.command) and "%" not in raw:
        command = raw
    else:
        command = f"{shlex.quote(job.shell)} -c {shlex.quote(raw)}"
    stdin = "" if job.raw_stdin is None else "%" + job.raw_stdin
    return " ".join([*options, "--", command]) + stdin


def render_crontab(
    lines: Sequence[Line], names: dict[int, str], source: str, runwatch: str = "runwatch"
) -> str:
    """The crontab with each job line running through `runwatch wrap`."""
    out = [
        f"# {source}, rewritten by `runwatch import-crontab`: each job runs through",
        "# `runwatch wrap`, which records it and passes its output and exit code through.",
        "# `runwatch` must be on cron's PATH (or give --runwatch /full/path/to/runwatch).",
    ]
    for line in lines:
        if isinstance(line, CronJob):
            user = f" {line.user}" if line.user is not None else ""
            command = wrapped_command(line, names[line.number], runwatch)
            out.append(f"{line.timing}{user} {command}")
        elif isinstance(line, Unparsable):
            out.append(f"# runwatch import-crontab: line {line.number} kept as is: {line.reason}")
            out.append(line.text)
        else:
            out.append(line.text)
    return "\n".join(out) + "\n"


# -- the jobs file ----------------------------------------------------------------------


def _quoted(value: str) -> str:
    """A YAML double-quoted scalar (JSON's string syntax is YAML's too)."""
    return json.dumps(value, ensure_ascii=False)


def job_command(job: CronJob) -> str:
    """The line's command as one shell script, its standard input fed by ``printf``."""
    if job.stdin is None:
        return job.command
    return f"printf '%s' {shlex.quote(job.stdin)} | {{ {job.command.strip()}\n}}"


def render_jobs(jobs: Sequence[CronJob], names: Sequence[str], source: str) -> str:
    """A jobs file with one job per crontab line."""
    out = [
        f"# Jobs imported from {source} by `runwatch import-crontab`.",
        "# Either install the rewritten crontab (cron runs the jobs, runwatch records them)",
        "# or let `runwatch serve` run these jobs - not both, or every job runs twice.",
        "jobs:" if jobs else "jobs: {}",
    ]
    for job, name in zip(jobs, names, strict=True):
        out.append(f"  # line {job.number}: {job.text.strip()}")
        if job.user is not None:
            out.append(f"  # cron runs it as user {job.user!r}")
        out.append(f"  {name}:")
        if job.schedule is None:
            out.append(f"    # {REBOOT}: once at boot under cron; here it has no schedule")
        else:
            out.append(f"    schedule: {_quoted(job.schedule)}")
            if job.timezone:
                out.append(f"    timezone: {_quoted(job.timezone)}")
        script = job_command(job)
        if job.shell == DEFAULT_SHELL:
            out.append(f"    command: {_quoted(script)}")
        else:
            out.append(f'    command: [{_quoted(job.shell)}, "-c", {_quoted(script)}]')
        env = {k: v for k, v in job.env.items() if k not in _CRON_ONLY}
        if env:
            pairs = ", ".join(f"{_quoted(k)}: {_quoted(v)}" for k, v in env.items())
            out.append(f"    env: {{{pairs}}}")
        out.append(f"    tags: [{TAG}]")
    return "\n".join(out) + "\n"
