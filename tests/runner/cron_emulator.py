"""A cron-semantics emulator for tests: reads a crontab the way cronie's daemon does and
runs each entry's command the way it does.

Written from cron's behaviour (cronie's ``load_env``/``load_entry``/``do_command``), not
from runner.crontab, so that it can judge runner.crontab: a character stream in which
only ``\\n`` ends a line; blank and ``#`` lines skipped after spaces and tabs; each other
line tried as ``NAME = value`` first; time fields read as cron reads them (including the
junk it skips); a system crontab's user column; the environment cron builds (the
crontab's assignments above the entry, then SHELL=/bin/sh, HOME and PATH=/usr/bin:/bin
when unset, LOGNAME and USER always); the ``%`` rule; ``SHELL -c COMMAND`` in ``HOME``
with that environment only, standard input a pipe fed what follows the first ``%``,
standard error joined to standard output.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PATH = "/usr/bin:/bin"
_SPACE = "[ \t\n\v\f\r]"
_ASSIGNMENT = re.compile(
    rf"""(?:(?P<q1>['"])(?P<qname>(?:(?!(?P=q1))[^=])*)(?P=q1)"""
    rf"""|(?P<name>(?!['"])[^ \t\n\v\f\r=]*))"""
    rf"{_SPACE}*={_SPACE}*"
    rf"""(?:(?P<q2>['"])(?P<qvalue>(?:(?!(?P=q2)).)*)(?P=q2){_SPACE}*"""
    rf"""|(?P<value>[^'" \t\n\v\f\r].*))""",
    re.DOTALL,
)
_MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
_DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun"]
_SPECS = [(0, 59, None), (0, 23, None), (1, 31, None), (1, 12, _MONTHS), (0, 7, _DAYS)]
_MACROS = {
    "reboot": None,
    "yearly": "0 0 1 1 *",
    "annually": "0 0 1 1 *",
    "monthly": "0 0 1 * *",
    "weekly": "0 0 * * 0",
    "daily": "0 0 * * *",
    "midnight": "0 0 * * *",
    "hourly": "0 * * * *",
}


@dataclass(frozen=True)
class Entry:
    """One job cron would run: when (the sets of each field, or reboot), as whom, what."""

    line: int
    when: tuple[frozenset[int], ...] | None
    user: str
    command: str
    """The command text as cron stores it (before the ``%`` rule)."""
    env: dict[str, str] = field(hash=False)


@dataclass(frozen=True)
class Ran:
    """What running an entry did: exit status and the combined output."""

    status: int
    output: bytes


class _Stream:
    """Characters one at a time, as cron's get_char/unget_char see a file."""

    def __init__(self, text: str) -> None:
        self.text, self.at, self.line = text, 0, 1

    def get(self) -> str:
        if self.at >= len(self.text):
            return ""
        char = self.text[self.at]
        self.at += 1
        self.line += char == "\n"
        return char

    def unget(self, char: str) -> None:
        if char:
            self.at -= 1
            self.line -= char == "\n"

    def until(self, stops: str) -> tuple[str, str]:
        """Read up to one of ``stops`` (or the end); the text and the stop read."""
        out = []
        while (char := self.get()) and char not in stops:
            out.append(char)
        return "".join(out), char

    def skip_to_next_line(self, char: str) -> None:
        while char and char != "\n":
            char = self.get()


def _skip_comments(stream: _Stream) -> None:
    while char := stream.get():
        while char in (" ", "\t"):
            char = stream.get()
        if not char:
            return
        if char not in ("\n", "#"):
            stream.unget(char)
            return
        stream.skip_to_next_line(char)


def _number(stream: _Stream, char: str, low: int, names: list[str] | None, stops: str):
    digits = ""
    while char.isdigit() and char.isascii():
        digits += char
        char = stream.get()
    if digits:
        return (int(digits), char) if char in stops else (None, char)
    word = ""
    while names and char.isalpha() and char.isascii():
        word += char
        char = stream.get()
    if word and char in stops and word.lower() in names:
        return names.index(word.lower()) + low, char
    return None, char


def _range(stream: _Stream, char: str, spec) -> tuple[set[int] | None, str]:
    low, high, names = spec
    if char == "*":
        first, last, char = low, high, stream.get()
    else:
        first, char = _number(stream, char, low, names, ",- \t\n")
        if first is None:
            return None, char
        if char != "-":
            return ({first} if low <= first <= high else None), char
        last, char = _number(stream, stream.get(), low, names, "/, \t\n")
        if last is None or first > last:
            return None, char
    step = 1
    if char == "/":
        step, char = _number(stream, stream.get(), 0, None, ", \t\n")
        if not step:
            return None, char
    values = set(range(first, last + 1, step))
    return (values if all(low <= v <= high for v in values) else None), char


def _list(stream: _Stream, char: str, spec) -> tuple[frozenset[int] | None, str]:
    found: set[int] = set()
    while True:
        values, char = _range(stream, char, spec)
        if values is None:
            return None, char
        found |= values
        if char != ",":
            break
        char = stream.get()
    while char and char not in " \t\n":  # cron skips what follows a valid list
        char = stream.get()
    while char in (" ", "\t"):
        char = stream.get()
    return frozenset(found), char


def _when(stream: _Stream, char: str) -> tuple[tuple[frozenset[int], ...] | None, str, bool]:
    """The schedule (None: @reboot), the next character, and whether it was readable."""
    if char == "@":
        word, char = stream.until(" \t\n")
        if word not in _MACROS:
            return None, char, False
        while char in (" ", "\t"):
            char = stream.get()
        expression = _MACROS[word]
        if expression is None:
            return None, char, True
        return _when(_Stream(expression + " x\n"), "")[0], char, True
    sets = []
    for spec in _SPECS:
        values, char = _list(stream, char or stream.get(), spec)
        if values is None:
            return None, char, False
        sets.append(values)
    return tuple(sets), char, True


def _entry(stream: _Stream, system: bool, user: str, home: str, env: dict[str, str]):
    _skip_comments(stream)
    number = stream.line
    char = stream.get()
    when, char, readable = _when(stream, char)
    if not readable or not char or char in ("\n", "*"):
        stream.skip_to_next_line(char)
        return None
    stream.unget(char)
    if system:
        user, char = stream.until(" \t\n")
        if char in ("", "\n"):
            return None
    command, char = stream.until("\n")
    if not char:  # no newline before the end of the file
        return None
    full = dict(env)
    full.setdefault("SHELL", "/bin/sh")
    full.setdefault("HOME", home)
    full.setdefault("PATH", DEFAULT_PATH)
    full.update(LOGNAME=user, USER=user)
    return Entry(number, when, user, command, full)


def _assignment(stream: _Stream) -> tuple[str, str] | bool | None:
    """The next active line as an assignment; None if it is not one; False at the end."""
    start, line = stream.at, stream.line
    _skip_comments(stream)
    text, stop = stream.until("\n")
    if not stop:
        return False
    found = _ASSIGNMENT.fullmatch(text)
    if found is None:
        stream.at, stream.line = start, line
        return None
    name = found["qname"] if found["q1"] else found["name"]
    if found["q2"]:
        return name, found["qvalue"]
    return name, found["value"].rstrip(" \t\n\v\f\r")


def read_crontab(text: str, *, system: bool = False, user: str = "cronuser", home: str = "/"):
    """The entries cron would run from a crontab, in order."""
    stream = _Stream(text)
    env: dict[str, str] = {}
    entries: list[Entry] = []
    while (assignment := _assignment(stream)) is not False:
        if assignment is None:
            entry = _entry(stream, system, user, home, env)
            if entry is not None:
                entries.append(entry)
        else:
            env[assignment[0]] = assignment[1]
    return entries


def _split_percent(command: str) -> tuple[str, str]:
    """The shell's command and the raw input, as do_command cuts them."""
    kept: list[str] = []
    escaped = False
    for index, char in enumerate(command):
        if escaped:
            escaped = False
            if char == "%":
                kept[-1] = "%"
                continue
        elif char == "\\":
            escaped = True
        elif char == "%":
            return "".join(kept), command[index + 1 :]
        kept.append(char)
    return "".join(kept), ""


def _input(raw: str) -> bytes:
    """What do_command writes to the command's standard input."""
    out = bytearray()
    escaped = need_newline = False
    for written in raw:
        char = written
        if escaped and char != "%":
            out += b"\\"
        elif not escaped and char == "%":
            char = "\n"
        escaped = char == "\\"
        if not escaped:
            out += char.encode()
            need_newline = char != "\n"
    if escaped:
        out += b"\\"
    if need_newline:
        out += b"\n"
    return bytes(out)


def run_entry(entry: Entry, *, timeout: float = 60) -> Ran:
    """Run the entry as cron would: ``SHELL -c COMMAND`` in HOME, its input piped in."""
    command, raw_input = _split_percent(entry.command)
    done = subprocess.run(
        [entry.env["SHELL"], "-c", command],
        input=_input(raw_input) if raw_input else b"",
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=entry.env,
        cwd=entry.env["HOME"],
        timeout=timeout,
        check=False,
    )
    return Ran(done.returncode, done.stdout)


def files_under(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative name → content): a command's side effects."""
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@dataclass(frozen=True)
class Outcome:
    """One entry run in a fresh HOME: what it printed, the files it left, wrap's argv."""

    entry: Entry
    ran: Ran
    files: dict[str, bytes]
    wrap_argv: list[str] | None


FAKE_RUNWATCH = """#!/bin/sh
# Stands in for runwatch: logs its arguments, then runs what follows -- as wrap does.
for word in "$@"; do printf '%s\\0' "$word" >> {log}; done
[ "$1" = wrap ] || exit 99
while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do shift; done
shift
exec "$@"
"""


def fake_runwatch(folder: Path) -> tuple[Path, Path]:
    """A stand-in `runwatch` in ``folder`` and the file it logs its arguments to."""
    import shlex

    log = folder / "wrap-argv"
    script = folder / "runwatch"
    script.write_text(FAKE_RUNWATCH.replace("{log}", shlex.quote(str(log))))
    script.chmod(0o755)
    return script, log


def run_crontab(
    text: str, *, home: Path, system: bool = False, wrap_log: Path | None = None
) -> list[Outcome]:
    """Every entry of the crontab run as cron would, each in a fresh, empty ``home``."""
    import shutil

    outcomes = []
    for entry in read_crontab(text, system=system, home=str(home)):
        shutil.rmtree(home, ignore_errors=True)
        home.mkdir(parents=True)
        if wrap_log is not None:
            wrap_log.unlink(missing_ok=True)
        ran = run_entry(entry)
        argv = None
        if wrap_log is not None and wrap_log.exists():
            argv = wrap_log.read_bytes().decode().split("\0")[:-1]
        outcomes.append(Outcome(entry, ran, files_under(home), argv))
    return outcomes
