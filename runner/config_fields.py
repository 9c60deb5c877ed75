"""Typed config reading with locations: the one toolkit every reader of a setting uses.

A place (``Location`` for runwatch.yaml and job files, alerting's ``KeyPath`` for the
``alerting:`` tree) knows how to name itself in an error; the checks here take the raw
value and its place and return the typed value or raise DefinitionError naming the file,
line (where known) and key. Kernel code: job definitions, the server, executor and
alerting settings all read through it, so one value is rejected with one message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

from runner.durations import parse_duration
from runner.errors import DefinitionError
from runner.secret import Secret

MAX_WHOLE_NUMBER = 2**31 - 1
"""The largest count any key takes: a 32-bit integer column holds it on every backend."""

E = TypeVar("E", bound=StrEnum)


class Place(Protocol):
    """Where a value sits; ``error`` gives the DefinitionError naming that place."""

    def error(self, message: str) -> DefinitionError:
        """A DefinitionError whose message starts with this place."""
        ...


@dataclass(frozen=True)
class Location:
    """A place in a definition; ``str()`` gives ``file:line: job 'j', task 't', key 'k'``."""

    file: str
    line: int | None = None
    job: str | None = None
    task: str | None = None
    key: str | None = None

    def __str__(self) -> str:
        head = self.file if self.line is None else f"{self.file}:{self.line}"
        parts = []
        if self.job is not None:
            parts.append(f"job {self.job!r}")
        if self.task is not None:
            parts.append(f"task {self.task!r}")
        if self.key is not None:
            parts.append(f"key {self.key!r}")
        return f"{head}: {', '.join(parts)}" if parts else head

    def error(self, message: str) -> DefinitionError:
        """A DefinitionError whose message starts with this location."""
        return DefinitionError(f"{self}: {message}")

    def at(self, key: str, line: int | None = None) -> Location:
        """The location of ``key`` below this one (dotted under an existing key)."""
        full = key if self.key is None else f"{self.key}.{key}"
        return Location(self.file, self.line if line is None else line, self.job, self.task, full)

    def in_job(self, job: str, line: int | None = None) -> Location:
        """The location of a job (clearing any task and key)."""
        return Location(self.file, self.line if line is None else line, job)

    def in_task(self, task: str, line: int | None = None) -> Location:
        """The location of a task of this job (clearing any key)."""
        return Location(self.file, self.line if line is None else line, self.job, task)


Converter = Callable[[object, Location], Any]


def close_match(key: object, known: Iterable[str]) -> str | None:
    """The known name closest to a mistyped ``key``, or None when none is close."""
    import difflib  # only for a mistake: not paid by every command's start

    close = difflib.get_close_matches(str(key), list(known), n=1, cutoff=0.6)
    return close[0] if close else None


def suggest(key: object, known: Iterable[str]) -> str:
    """``unknown key 'retires' (did you mean 'retries'?)``, or without the hint if none is close."""
    close = close_match(key, known)
    hint = f" (did you mean {close!r}?)" if close else ""
    return f"unknown key {key!r}{hint}"


def shown(value: object) -> str:
    """A value as an error message shows it: its repr, cut at 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def plain(value: object) -> object:
    """A setting's value, revealed when it came from ``${VAR}`` or ``${file:PATH}``."""
    return value.reveal() if isinstance(value, Secret) else value


def shown_safely(value: object) -> str:
    """A setting's value as an error shows it: never the text of a secret."""
    return "a value from the environment" if isinstance(value, Secret) else repr(value)


def setting_duration(value: object, where: Place) -> float:
    """Seconds from a setting that may be a secret; the error then shows no value."""
    try:
        return parse_duration(plain(value))
    except ValueError as exc:
        raise where.error(str(exc) if not isinstance(value, Secret) else "not a duration") from None


def whole_number(
    value: object,
    where: Place,
    minimum: int = 0,
    maximum: int | None = None,
    show: Callable[[object], str] = shown,
) -> int:
    """An int within bounds (not a bool, not a float); never above ``MAX_WHOLE_NUMBER``."""
    if (
        not isinstance(value, int)
        or isinstance(value, bool)
        or value < minimum
        or (maximum is not None and value > maximum)
    ):
        bound = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
        raise where.error(f"expected a whole number {bound}, got {show(value)}")
    if value > MAX_WHOLE_NUMBER:
        raise where.error(f"expected a whole number of at most {MAX_WHOLE_NUMBER}, got {value}")
    return value


def duration(value: object, where: Place, positive: bool = False) -> float:
    """Seconds from ``30s``, ``5m``, ``1h30m`` or a number of seconds."""
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise where.error(str(exc)) from None
    if positive and seconds <= 0:
        raise where.error(f"expected a duration above zero, got {shown(value)}")
    return seconds


def web_url(value: object, where: Place) -> str:
    """An http(s) URL with a host, e.g. a runbook's."""
    if isinstance(value, str):
        parts = urlsplit(value.strip())
        if parts.scheme in ("http", "https") and parts.hostname and " " not in value.strip():
            return value.strip()
    raise where.error(f"expected an http(s) URL such as https://wiki.example/x, got {shown(value)}")


def boolean(value: object, where: Place) -> bool:
    """``true`` or ``false``."""
    if not isinstance(value, bool):
        raise where.error(f"expected true or false, got {shown(value)}")
    return value


def text(value: object, where: Place, show: Callable[[object], str] = shown) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise where.error(f"expected a non-empty string, got {show(value)}")
    return value


def choice(value: object, where: Place, enum: type[E]) -> E:
    """One of an enum's values, e.g. a trigger rule."""
    options = [member.value for member in enum]
    if isinstance(value, str) and value in options:
        return enum(value)
    close = close_match(value, options)
    hint = f" (did you mean {close!r}?)" if close else ""
    raise where.error(f"expected one of {', '.join(options)}, got {shown(value)}{hint}")


def string_list(value: object, where: Place) -> tuple[str, ...]:
    """A list of non-empty strings (tags)."""
    if not isinstance(value, list | tuple) or not all(
        isinstance(item, str) and item for item in value
    ):
        raise where.error(f"expected a list of non-empty strings, got {shown(value)}")
    return tuple(value)


def convert(
    raw: Mapping[str, object],
    converters: Mapping[str, Converter],
    where: Location,
    lines: Callable[[str], int | None] = lambda _key: None,
) -> dict[str, Any]:
    """Convert the keys of ``raw`` that ``converters`` knows; ``None`` values count as unset."""
    return {
        key: converters[key](value, where.at(key, lines(key)))
        for key, value in raw.items()
        if key in converters and value is not None
    }


def check_keys(
    raw: Mapping[Any, object],
    allowed: Iterable[str],
    where: Location,
    lines: Callable[[str], int | None] = lambda _key: None,
) -> None:
    """Raise DefinitionError for the first key of ``raw`` that is not ``allowed``."""
    known = tuple(allowed)
    for key in raw:
        if key not in known:
            raise replace(where, line=lines(key) or where.line).error(suggest(key, known))
