"""The two files an import writes: a jobs YAML and the crontab rewritten to use `wrap`.

Each job line keeps everything before its command byte for byte (so cron reads the same
times and user) and runs the command cron would have run through
``exec runwatch wrap --job NAME [--config FILE] --schedule 'EXPR' -- SHELL -c 'COMMAND'``:
the same shell, the same command text, and — after cron's ``%`` — the same standard
input, written as it was (``exec``: no shell is left between cron and wrap). The new
command part is encoded for cron's ``%`` rule and decoded back as a check, and refused
when cron would cut it short. Comments, blank lines and assignments are kept; so are
lines that are not converted, with a comment why.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from runner.crontab.lines import (
    BLANKS,
    DEFAULT_SHELL,
    MAX_LINE_BYTES,
    CronJob,
    Line,
    Unconvertible,
    parse_crontab,
)
from runner.crontab.naming import job_names
from runner.crontab.percent import UnencodableError, encode_command, split_command
from runner.crontab.syntax import shell_syntax_error

_CRON_ONLY = ("MAILTO", "MAILFROM", "SHELL", "CRON_TZ", "RANDOM_DELAY", "CONTENT_TYPE")
"""Assignments that configure cron itself rather than the job's environment."""
_POSIX_SHELLS = frozenset({"sh", "bash", "dash", "ash", "ksh", "mksh", "lksh", "zsh", "yash"})
"""Shells that read the rewritten line's quoting as POSIX says."""
TAG = "crontab"


@dataclass(frozen=True)
class Rewrite:
    """How rewritten lines call runwatch: the program, and the settings file to pass."""

    runwatch: str = "runwatch"
    config: Path | None = None


@dataclass(frozen=True)
class CrontabImport:
    """The result of an import: both files' text, the jobs found and the lines skipped."""

    jobs_yaml: str
    crontab: str
    names: tuple[str, ...]
    skipped: tuple[Unconvertible, ...]


def import_crontab(
    text: str, *, system: bool = False, source: str = "crontab", rewrite: Rewrite | None = None
) -> CrontabImport:
    """Import a crontab; ``rewrite`` says how the rewritten lines call runwatch."""
    how = rewrite or Rewrite()
    parsed = parse_crontab(text, system=system)
    candidates = [line for line in parsed if isinstance(line, CronJob)]
    named = dict(zip((job.number for job in candidates), job_names(candidates), strict=True))
    lines: list[Line] = []
    rewritten: dict[int, str] = {}
    for line in parsed:
        try:
            if isinstance(line, CronJob):
                rewritten[line.number] = rewritten_line(line, named[line.number], how)
            lines.append(line)
        except ValueError as exc:
            lines.append(Unconvertible(line.number, line.text, str(exc)))
    jobs = [line for line in lines if isinstance(line, CronJob)]
    names = [named[job.number] for job in jobs]
    return CrontabImport(
        jobs_yaml=render_jobs(jobs, names, source),
        crontab=render_crontab(lines, rewritten, source, final_newline=not _unterminated(text)),
        names=tuple(names),
        skipped=tuple(line for line in lines if isinstance(line, Unconvertible)),
    )


def _unterminated(text: str) -> bool:
    return bool(text) and not text.endswith("\n")


# -- the rewritten crontab --------------------------------------------------------------


def wrapped_command(job: CronJob, name: str, rewrite: Rewrite) -> str:
    """The command cron should hand to the shell: wrap, running what cron would have."""
    words = [rewrite.runwatch, "wrap", "--job", name]
    if rewrite.config is not None:
        words += ["--config", os.fspath(rewrite.config)]
    if job.schedule is not None:
        words += ["--schedule", job.schedule]
        if job.timezone:
            words += ["--timezone", job.timezone]
    words += ["--", job.shell, "-c", job.command]
    return "exec " + " ".join(shlex.quote(word) for word in words)


def rewritten_line(job: CronJob, name: str, rewrite: Rewrite) -> str:
    """The job's line running through wrap; ValueError when cron could not run it as is."""
    shell = os.path.basename(job.shell)
    if shell not in _POSIX_SHELLS:
        raise ValueError(f"SHELL={job.shell} is not a POSIX shell, which the rewritten line needs")
    if job.timezone is not None and job.schedule is not None:
        _check_timezone(job.timezone)
    complaint = shell_syntax_error(job.shell, job.command)
    if complaint is not None:
        raise ValueError(f"the shell cannot read the command, under cron too: {complaint}")
    stdin_follows = job.raw_stdin is not None
    try:
        command = encode_command(wrapped_command(job, name, rewrite), stdin_follows=stdin_follows)
    except UnencodableError as exc:
        raise ValueError(f"cannot write the rewritten line: {exc}") from None
    if stdin_follows:
        command += "%" + (job.raw_stdin or "")
    if split_command(command) != (wrapped_command(job, name, rewrite), job.raw_stdin):
        raise ValueError("the rewritten line would not read back as written")  # defence
    line = job.prefix + command
    size = len(line.lstrip(BLANKS).encode())
    if size > MAX_LINE_BYTES:
        raise ValueError(
            f"the rewritten line would be {size} bytes; some crons read only the first "
            f"{MAX_LINE_BYTES}"
        )
    return line


def _check_timezone(name: str) -> None:
    from runner.scheduling.schedule import validate_timezone

    try:
        validate_timezone(name)
    except ValueError as exc:
        raise ValueError(f"CRON_TZ={name}: {exc}") from None


def render_crontab(
    lines: Sequence[Line], rewritten: dict[int, str], source: str, *, final_newline: bool = True
) -> str:
    """The crontab with each job line running through `runwatch wrap`."""
    out = [
        f"# {source}, rewritten by `runwatch import-crontab`: each job runs through",
        "# `runwatch wrap`, which records it and passes its output and exit code through.",
    ]
    for line in lines:
        if isinstance(line, CronJob):
            out.append(rewritten[line.number])
        elif isinstance(line, Unconvertible):
            out.append(f"# runwatch import-crontab: line {line.number} kept as is")
            out.append(line.text)
        else:
            out.append(line.text)
    return "\n".join(out) + ("\n" if final_newline else "")


# -- the jobs file ----------------------------------------------------------------------


def _yaml_char(char: str) -> str:
    code = ord(char)
    if char in '"\\':
        return "\\" + char
    if code < 0x20 or code == 0x7F or 0x80 <= code < 0xA0:
        return f"\\x{code:02x}"
    if code in (0x2028, 0x2029, 0xFEFF) or 0xD800 <= code < 0xE000 or code in (0xFFFE, 0xFFFF):
        return f"\\u{code:04x}"
    return char


def _quoted(value: str) -> str:
    """A YAML double-quoted scalar on one line: every line break and control escaped."""
    return '"' + "".join(map(_yaml_char, value)) + '"'


def job_command(job: CronJob) -> str:
    """The line's command as one shell script, its standard input fed by ``printf``."""
    if job.stdin is None:
        return job.command
    return f"printf '%s' {shlex.quote(job.stdin)} | {{ {job.command}\n}}"


def render_jobs(jobs: Sequence[CronJob], names: Sequence[str], source: str) -> str:
    """A jobs file with one job per crontab line."""
    out = [
        f"# Jobs imported from {source} by `runwatch import-crontab`.",
        "# Either install the rewritten crontab (cron runs the jobs, runwatch records them)",
        "# or let `runwatch serve` run these jobs - not both, or every job runs twice.",
        "jobs:" if jobs else "jobs: {}",
    ]
    for job, name in zip(jobs, names, strict=True):
        out.append(f"  # line {job.number}: {_quoted(job.text)}")
        if job.user is not None:
            out.append(f"  # cron runs it as user {job.user!r}")
        out.append(f"  {name}:")
        if job.schedule is None:
            out.append("    # @reboot: once at boot under cron; here it has no schedule")
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
