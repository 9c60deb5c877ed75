"""Assembling checked option values into model.Task and model.Job, with defaults applied.

Precedence, lowest first: the model's defaults, the file's ``defaults``, the job's
``defaults``, the task's own value. ``env`` maps merge key by key instead.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from runner import model
from runner.config_fields import Location
from runner.definitions.dependencies import fold as fold_dependency
from runner.definitions.fields import MapParam
from runner.definitions.graph import check_graph
from runner.definitions.shape import check_shape

_COMMAND_ONLY = "skip_exit_code"
NO_EXIT_CODE = "only command tasks have an exit code; raise runner.Skip from a Python task instead"
_PYTHON_ONLY = "in_process"


def merge_options(*layers: Mapping[str, Any]) -> dict[str, Any]:
    """Later layers win, except that ``env`` maps are merged (later keys win)."""
    merged: dict[str, Any] = {}
    for layer in layers:
        for key, value in layer.items():
            if key == "env" and "env" in merged:
                merged["env"] = {**merged["env"], **value}
            else:
                merged[key] = value
    return merged


def assemble_task(
    name: str,
    own: Mapping[str, Any],
    inherited: Mapping[str, Any],
    where: Callable[[str], Location],
) -> model.Task:
    """A model.Task from its own checked options (``command`` or ``python`` among them)
    and the options it inherits from ``defaults``; ``where(key)`` locates a key."""
    if own.get("sensor") is not None:
        return _sensor_task(name, own, inherited, where)
    is_python = own.get("python") is not None
    if is_python and own.get("command") is not None:
        raise where("command").error("a task has either 'command' or 'python', not both")
    if not is_python and own.get("command") is None:
        raise where("command").error("a task needs 'command' (argv list or string) or 'python'")
    if is_python and _COMMAND_ONLY in own:
        raise where(_COMMAND_ONLY).error(NO_EXIT_CODE)
    if not is_python and _PYTHON_ONLY in own:
        raise where(_PYTHON_ONLY).error("only Python tasks can run in process")
    if is_python and "branch_on_exit" in own:
        raise where("branch_on_exit").error(
            "only command tasks have an exit code; return runner.Branch(...) from a Python task"
        )
    if not is_python and ("args" in own or "kwargs" in own):
        key = "args" if "args" in own else "kwargs"
        raise where(key).error("'args' and 'kwargs' are for Python tasks ('python:')")
    # Defaults meant for the other kind of task do not apply to this one.
    skip = _COMMAND_ONLY if is_python else _PYTHON_ONLY
    fields = merge_options({k: v for k, v in inherited.items() if k != skip}, own)
    _mapping_fields(fields, where)
    _check_retry_delays(fields, own, inherited, where)
    if is_python:
        _check_arguments(own["python"], own.get("args", ()), dict(own.get("kwargs", ())), where)
    return model.Task(name=name, **fields)


_SENSOR_TAKES = frozenset({"sensor", "after", "trigger"})
"""The task keys a sensor task takes: it runs nothing, so no command keys."""


def _sensor_task(
    name: str,
    own: Mapping[str, Any],
    inherited: Mapping[str, Any],
    where: Callable[[str], Location],
) -> model.Task:
    for key in own:
        if key not in _SENSOR_TAKES:
            raise where(key).error(
                f"a sensor task takes no {key!r}: it runs nothing but its poke "
                "(put a command or Python condition under 'sensor:')"
            )
    kept = {k: v for k, v in inherited.items() if k == "trigger"}
    return model.Task(name=name, **merge_options(kept, own))


def _mapping_fields(fields: dict[str, Any], where: Callable[[str], Location]) -> None:
    """``map_over`` as the model has it: a task (also an upstream one) or a parameter."""
    source = fields.pop("map_over", None)
    if source is None:
        if "max_map" in fields:
            raise where("max_map").error("max_map is for a mapped task: set 'map_over' too")
        return
    if "branch_on_exit" in fields:
        raise where("branch_on_exit").error("a mapped task cannot branch: its instances would")
    if isinstance(source, MapParam):
        fields["map_param"] = source.name
        return
    fields["map_over"] = source
    after = tuple(fields.get("after", ()))
    if source not in after:
        fields["after"] = (*after, source)


def _check_arguments(
    function: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    where: Callable[[str], Location],
) -> None:
    """Fail now, not at run time, when the function cannot take these arguments."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # some builtins have none; they fail at run time instead
        return
    try:
        signature.bind(*args, **kwargs)
    except TypeError as exc:
        name = getattr(function, "__name__", repr(function))
        key = "kwargs" if kwargs and not args else "args"
        raise where(key).error(f"cannot call {name}() with these arguments: {exc}") from None


def _check_retry_delays(
    fields: dict[str, Any],
    own: Mapping[str, Any],
    inherited: Mapping[str, Any],
    where: Callable[[str], Location],
) -> None:
    """A longer retry_delay lifts the default cap; an explicit, shorter cap is an error."""
    default = model.Task(name="_")
    delay = fields.get("retry_delay", default.retry_delay)
    cap = fields.get("max_retry_delay", default.max_retry_delay)
    if delay <= cap:
        return
    if "max_retry_delay" in own or "max_retry_delay" in inherited:
        raise where("max_retry_delay").error(
            f"max_retry_delay ({cap:g}s) is shorter than retry_delay ({delay:g}s)"
        )
    fields["max_retry_delay"] = delay


def assemble_job(
    name: str,
    tasks: Mapping[str, model.Task],
    options: Mapping[str, Any],
    source: str,
    where: Callable[[str], Location],
    *,
    locate: Callable[[str, str], Location],
) -> model.Job:
    """A model.Job from its checked options and tasks, after checking the task graph;
    ``where(task)`` locates a task's ``after``, ``locate(task, key)`` any of its keys."""
    check_shape(tasks, locate)
    check_graph(tasks, where)
    fields = dict(options)
    fold_dependency(fields, Location(source, job=name))
    return model.Job(name=name, tasks=dict(tasks), source=source, **fields)
