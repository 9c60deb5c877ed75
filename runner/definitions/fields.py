"""The keys of jobs and tasks, and how each value is checked and converted.

Shared by the YAML loader and the Python API so that both accept the same values and
reject the rest with the same messages. Every converter takes the raw value and its
Location and returns the model value or raises DefinitionError.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from runner import model
from runner.config_fields import (
    Converter,
    Location,
    boolean,
    choice,
    duration,
    shown,
    string_list,
    suggest,
    text,
    web_url,
    whole_number,
)
from runner.errors import InvalidScheduleError
from runner.scheduling.schedule import validate_schedule, validate_timezone
from runner.taskenv import parse_env_inherit

if TYPE_CHECKING:
    from runner.taskenv import EnvInherit

_NAME = re.compile(r"[A-Za-z0-9_.-]+")
MAX_NAME_LENGTH = 200
"""The longest job, task or pool name: the store's name columns hold 200 characters."""
_PARAM = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


TASK_DEFAULT_KEYS = (
    "trigger",
    "retries",
    "retry_delay",
    "max_retry_delay",
    "timeout",
    "env",
    "env_inherit",
    "cwd",
    "pool",
    "queue",
    "skip_exit_code",
    "in_process",
)
"""Task keys that may also be set for every task, under ``defaults:``."""

SHAPE_KEYS = ("branch_on_exit", "map_over", "max_map", "sensor")
"""Task keys that shape the run at run time (runner.definitions.shape checks them)."""

TASK_KEYS = ("command", "python", "args", "kwargs", "after", *TASK_DEFAULT_KEYS, *SHAPE_KEYS)
"""Every key of a task."""

JOB_KEYS = (
    "schedule",
    "timezone",
    "owner",
    "tags",
    "description",
    "max_parallel",
    "timeout",
    "kill_grace",
    "catchup",
    "overlap",
    "max_active_runs",
    "dst",
    "grace",
    "expected_duration",
    "params",
    "pingable",
    "runbook",
)
"""Keys of a job that become fields of model.Job."""

FILE_DEFAULT_JOB_KEYS = ("owner", "tags")
"""Job keys a file's ``defaults:`` sets for each of its jobs."""


def name(value: object, where: Location, what: str) -> str:
    """A job, task or pool name: letters, digits, ``_ . -`` (it ends up in paths and labels)."""
    if not isinstance(value, str) or not _NAME.fullmatch(value) or set(value) == {"."}:
        raise where.error(
            f"{what} name must be letters, digits, '_', '.' or '-' (not only dots), "
            f"got {shown(value)}"
        )
    if len(value) > MAX_NAME_LENGTH:
        raise where.error(
            f"{what} name can be at most {MAX_NAME_LENGTH} characters, got {len(value)}"
        )
    return value


def _scalar_text(value: object, where: Location) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise where.error(f"expected a string, number or boolean, got {shown(value)}")


def env_map(value: object, where: Location) -> dict[str, str]:
    """Environment variables: names to scalar values, kept as strings."""
    if not isinstance(value, Mapping):
        raise where.error(f"expected a mapping of variable names to values, got {shown(value)}")
    result = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key or "=" in key or "\0" in key:
            raise where.error(f"environment variable name {key!r} is invalid")
        result[key] = _scalar_text(item, where.at(key))
    return result


def env_inherit(value: object, where: Location) -> EnvInherit:
    """``all`` or a list of the withheld variables a task keeps."""
    try:
        return parse_env_inherit(value)
    except ValueError as exc:
        raise where.error(str(exc)) from None


def params_map(value: object, where: Location) -> dict[str, str]:
    """Default run parameters: identifier names to scalar values, kept as strings."""
    if not isinstance(value, Mapping):
        raise where.error(f"expected a mapping of parameter names to values, got {shown(value)}")
    result = {}
    for key, item in value.items():
        if not isinstance(key, str) or not _PARAM.fullmatch(key):
            raise where.error(f"parameter name must be a Python-style identifier, got {key!r}")
        result[key] = _scalar_text(item, where.at(key))
    return result


def command(value: object, where: Location) -> tuple[str, ...] | str:
    """An argv list of strings (run without a shell) or a string (run by ``/bin/sh -c``)."""
    if isinstance(value, str):
        if not value.strip():
            raise where.error("the command is empty")
        _no_nul(value, where)
        return value
    if isinstance(value, list | tuple):
        if not value:
            raise where.error("the command is an empty list")
        bad = [item for item in value if not isinstance(item, str)]
        if bad:
            raise where.error(
                f"a command list holds strings only, got {shown(bad[0])}; quote it in YAML"
            )
        if not value[0]:
            raise where.error("the program (first item of the command) is empty")
        for item in value:
            _no_nul(item, where)
        return tuple(value)
    raise where.error(f"expected a list of strings or a shell string, got {shown(value)}")


def _no_nul(text: str, where: Location) -> None:
    # exec() cannot pass a NUL byte: the command would fail only when it runs.
    if "\0" in text:
        raise where.error(f"a command cannot contain a NUL byte, got {shown(text)}")


def after(value: object, where: Location) -> tuple[str, ...]:
    """Upstream task names: a list or a single name."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise where.error(f"expected a task name or a list of task names, got {shown(value)}")
    names = [name(item, where, "task") for item in items]
    return tuple(dict.fromkeys(names))


def branch_on_exit(value: object, where: Location) -> dict[int, tuple[str, ...]]:
    """``{exit code: [downstream task, ...]}``: the exit codes (0-255) that choose tasks."""
    if not isinstance(value, Mapping) or not value:
        raise where.error(
            f"expected a mapping of exit codes to downstream task names, got {shown(value)}"
        )
    codes = {}
    for key, names in value.items():
        at = where.at(str(key))
        code = whole_number(key, at, minimum=0, maximum=255)
        codes[code] = after(names, at)
    return codes


@dataclass(frozen=True)
class MapParam:
    """``map_over: {param: NAME}``: map over the JSON list of a run parameter."""

    name: str


def map_over(value: object, where: Location) -> str | MapParam:
    """An upstream task's name, or ``{param: NAME}`` for a run parameter."""
    if isinstance(value, Mapping):
        if set(value) != {"param"}:
            raise where.error(f"expected a task name or {{param: NAME}}, got {shown(dict(value))}")
        param = value["param"]
        if not isinstance(param, str) or not _PARAM.fullmatch(param):
            raise where.at("param").error(
                f"parameter name must be a Python-style identifier, got {shown(param)}"
            )
        return MapParam(param)
    return name(value, where, "task")


def cwd(value: object, where: Location, base: str) -> str:
    """A working folder; a relative one is taken relative to the defining file's folder."""
    path = text(value, where)
    return os.path.normpath(os.path.join(base, path))


def schedule(value: object, where: Location) -> object:
    """A cron expression (see runner.scheduling.schedule), or ``{after: [jobs]}``
    (runner.definitions.dependencies)."""
    if isinstance(value, Mapping) and "after" in value:
        from runner.definitions.dependencies import dependency_schedule

        return dependency_schedule(value, where)
    if not isinstance(value, str):
        raise InvalidScheduleError(f"{where}: expected a cron expression string, got {value!r}")
    try:
        validate_schedule(value)
    except InvalidScheduleError as exc:
        raise InvalidScheduleError(f"{where}: {exc}") from None
    return value.strip()


def timezone(value: object, where: Location) -> str:
    """An IANA timezone name."""
    try:
        validate_timezone(value)
    except InvalidScheduleError as exc:
        raise InvalidScheduleError(f"{where}: {exc}") from None
    assert isinstance(value, str)
    return value


def dst(value: object, where: Location) -> model.DstPolicy:
    """``{repeated: once|both, skipped: next_valid|skip}``."""
    if isinstance(value, model.DstPolicy):
        return value
    if not isinstance(value, Mapping):
        raise where.error(f"expected a mapping with 'repeated' and/or 'skipped', got {value!r}")
    for key in value:
        if key not in ("repeated", "skipped"):
            raise where.error(suggest(key, ("repeated", "skipped")))
    policy = model.DstPolicy()
    return model.DstPolicy(
        repeated=choice(value["repeated"], where.at("repeated"), model.RepeatedTime)
        if value.get("repeated") is not None
        else policy.repeated,
        skipped=choice(value["skipped"], where.at("skipped"), model.SkippedTime)
        if value.get("skipped") is not None
        else policy.skipped,
    )


JOB_CONVERTERS: dict[str, Converter] = {
    "schedule": schedule,
    "timezone": timezone,
    "owner": text,
    "tags": string_list,
    "description": text,
    "max_parallel": lambda v, w: whole_number(v, w, minimum=1),
    "timeout": lambda v, w: duration(v, w, positive=True),
    "kill_grace": duration,
    "catchup": boolean,
    "overlap": lambda v, w: choice(v, w, model.Overlap),
    "max_active_runs": lambda v, w: whole_number(v, w, minimum=1),
    "dst": dst,
    "grace": duration,
    "expected_duration": lambda v, w: duration(v, w, positive=True),
    "params": params_map,
    "pingable": boolean,
    "runbook": web_url,
}
"""Converters for JOB_KEYS."""

TASK_CONVERTERS: dict[str, Converter] = {
    "trigger": lambda v, w: choice(v, w, model.TriggerRule),
    "retries": whole_number,
    "retry_delay": duration,
    "max_retry_delay": duration,
    "timeout": lambda v, w: duration(v, w, positive=True),
    "env": env_map,
    "env_inherit": env_inherit,
    "pool": lambda v, w: name(v, w, "pool"),
    "queue": text,
    "skip_exit_code": lambda v, w: whole_number(v, w, minimum=1, maximum=255),
    "in_process": boolean,
    "after": after,
    "command": command,
    "branch_on_exit": branch_on_exit,
    "map_over": map_over,
    "max_map": lambda v, w: whole_number(v, w, minimum=1),
}
"""Converters for the task keys that need no file context (``cwd`` and ``python`` do)."""


def pool_sizes(
    value: object, where: Location, lines: Callable[[str], int | None] = lambda _key: None
) -> dict[str, int]:
    """``{pool name: size}``; a pool caps the concurrent attempts of the tasks that name it."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise where.error(f"expected a mapping of pool names to sizes, got {shown(value)}")
    sizes = {}
    for key, size in value.items():
        at = where.at(str(key), lines(key))
        sizes[name(key, at, "pool")] = whole_number(size, at, minimum=1)
    return sizes
