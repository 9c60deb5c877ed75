"""Job names for crontab lines: readable, derived from the command alone, unique.

``/usr/bin/python3 /opt/etl/load_orders.py --full`` is ``load-orders``; ``cd /srv &&
./backup.sh`` is ``backup``; ``php artisan schedule:run`` is ``artisan-schedule-run``.
Wrappers (``nice``, ``flock``, ``timeout`` …), variable assignments and ``cd`` are looked
through. A name depends on its line's content only, never on its position, so
re-importing a reordered crontab gives the same names. Lines that would share a name
get a short hash of their schedule, user and command added.
"""

from __future__ import annotations

import hashlib
import re
import shlex
from collections import Counter
from collections.abc import Sequence

from runner.crontab.lines import CronJob

MAX_NAME = 60
_OPERATORS = frozenset({"|", "||", "&&", ";", "&", ">", ">>", "<", "2>", "2>&1", "1>", "&>"})
_INTERPRETERS = frozenset(
    {
        "python",
        "python2",
        "python3",
        "perl",
        "ruby",
        "node",
        "php",
        "bash",
        "sh",
        "zsh",
        "dash",
        "ksh",
        "java",
        "Rscript",
        "uv",
        "poetry",
        "pipenv",
    }
)
# wrapper -> how many of its arguments to skip before the command (options are skipped too)
_WRAPPERS = {
    "nice": 0,
    "ionice": 0,
    "nohup": 0,
    "time": 0,
    "exec": 0,
    "env": 0,
    "chronic": 0,
    "sudo": 0,
    "timeout": 1,
    "flock": 1,
    "setlock": 1,
    "run-one": 0,
    "cronic": 0,
    "xargs": 0,
    "stdbuf": 0,
    "taskset": 1,
    "caffeinate": 0,
    "command": 0,
}
_OPTION_WITH_VALUE = frozenset({"-n", "-c", "-u", "-g", "-w", "-E", "-p"})
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_SUBCOMMAND = re.compile(r"^[A-Za-z][A-Za-z0-9:_-]{0,30}$")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")
_SCRIPT_SUFFIXES = (".py", ".sh", ".pl", ".rb", ".js", ".php", ".bash", ".r", ".R", ".jar")


def slug(text: str) -> str:
    """Lower case letters and digits joined by single dashes."""
    return _NOT_SLUG.sub("-", text.lower()).strip("-")


def _words(command: str) -> list[str]:
    try:
        lexer = shlex.shlex(command, posix=True, punctuation_chars=";&|<>")
        lexer.whitespace_split = True
        return list(lexer)
    except ValueError:  # unbalanced quotes: cron would pass them to the shell as they are
        return command.split()


def _stem(word: str) -> str:
    base = word.rstrip("/").rsplit("/", 1)[-1]
    for suffix in _SCRIPT_SUFFIXES:
        if base.endswith(suffix) and len(base) > len(suffix):
            return base[: -len(suffix)]
    return base


def _skip_options(words: list[str], index: int, values: int) -> int:
    """Past a wrapper's options and its ``values`` positional arguments."""
    while index < len(words) and words[index].startswith("-"):
        index += 2 if words[index] in _OPTION_WITH_VALUE else 1
    return index + values


def _program(words: list[str]) -> tuple[str, list[str]] | None:
    """The program that does the work and the words after it."""
    index = 0
    while index < len(words):
        word = words[index]
        if _ASSIGNMENT.match(word):
            index += 1
        elif word == "cd":  # `cd DIR && command`: the command counts
            index += 2
            while index < len(words) and words[index] in ("&&", ";"):
                index += 1
        elif word in ("&&", ";", "(", "{"):
            index += 1
        elif _stem(word) in _WRAPPERS:
            index = _skip_options(words, index + 1, _WRAPPERS[_stem(word)])
        else:
            return word, words[index + 1 :]
    return None


def base_name(command: str) -> str:
    """The readable part of a job's name, from its command."""
    found = _program(_words(command))
    if found is None:
        return "job"
    program, rest = found
    rest = rest[: next((i for i, w in enumerate(rest) if w in _OPERATORS), len(rest))]
    name = _stem(program)
    if name.rstrip("0123456789.") in _INTERPRETERS:
        if name in ("bash", "sh", "zsh", "dash", "ksh") and rest[:1] == ["-c"] and len(rest) > 1:
            return base_name(rest[1])
        if rest[:1] == ["-m"] and len(rest) > 1:  # python -m package.module
            return slug(rest[1].rsplit(".", 1)[-1]) or "job"
        scripts = [w for w in rest if not w.startswith("-")]
        if scripts:
            name, rest = _stem(scripts[0]), rest[rest.index(scripts[0]) + 1 :]
    elif name == "run-parts":  # run-parts /etc/cron.daily
        folders = [w for w in rest if not w.startswith("-")]
        return slug(_stem(folders[-1])) if folders else "run-parts"
    if rest and _SUBCOMMAND.match(rest[0]):
        name = f"{name}-{rest[0]}"
    return slug(name)[:MAX_NAME].strip("-") or "job"


def _fingerprint(job: CronJob) -> str:
    content = "\0".join([job.schedule or "@reboot", job.user or "", job.command])
    return hashlib.sha1(content.encode(), usedforsecurity=False).hexdigest()[:6]


def job_names(jobs: Sequence[CronJob]) -> list[str]:
    """A unique name for each job, in order."""
    bases = [base_name(job.command) for job in jobs]
    shared = Counter(bases)
    names = [
        base if shared[base] == 1 else f"{base[: MAX_NAME - 7]}-{_fingerprint(job)}"
        for base, job in zip(bases, jobs, strict=True)
    ]
    seen: Counter[str] = Counter()
    unique = []
    for name in names:  # identical lines: numbered in order, nothing else tells them apart
        seen[name] += 1
        unique.append(name if seen[name] == 1 else f"{name}-{seen[name]}")
    return unique
