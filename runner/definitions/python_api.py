"""The Python API: ``@task``, ``@job`` and ``command()``.

A ``@job`` function body runs once, at decoration time, inside a build context. There,
calling a ``@task`` function records a task instead of running it and returns a
TaskRef; passing a TaskRef to another task makes that task depend on it and receive
its (JSON) result at run time. Outside a job body a task function is a plain function.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, Generic, ParamSpec, TypedDict, TypeVar, Unpack, cast, overload

from runner import config_fields, model
from runner.config_fields import Location
from runner.definitions import fields
from runner.definitions.assembly import NO_EXIT_CODE, assemble_job, assemble_task

P = ParamSpec("P")
R = TypeVar("R")

_TASK_OPTIONS = (
    *(k for k in fields.TASK_DEFAULT_KEYS if k != "skip_exit_code"),
    "after",
    "name",
    "map_over",
    "max_map",
)
_COMMAND_OPTIONS = (
    *(k for k in fields.TASK_DEFAULT_KEYS if k != "in_process"),
    "after",
    "branch_on_exit",
    "map_over",
    "max_map",
)


class _CommonOptions(TypedDict, total=False):
    retries: int
    retry_delay: str | float
    max_retry_delay: str | float
    timeout: str | float
    env: Mapping[str, str | int | float | bool]
    cwd: str
    pool: str
    queue: str
    trigger: str
    after: Sequence[TaskRef | str]
    map_over: TaskRef | str | Mapping[str, str]
    max_map: int


class TaskOptions(_CommonOptions, total=False):
    """Options of ``@task`` and ``with_options``; a relative ``cwd`` is relative to the file."""

    name: str
    in_process: bool


class CommandOptions(_CommonOptions, total=False):
    """Options of ``command()``."""

    skip_exit_code: int
    branch_on_exit: Mapping[int, Sequence[str] | str]


class JobOptions(TypedDict, total=False):
    """Options of ``@job``: model.Job's fields, a ``name`` and ``defaults`` for its tasks."""

    name: str
    schedule: str | Mapping[str, object]
    timezone: str
    owner: str
    tags: Sequence[str]
    description: str
    max_parallel: int
    timeout: str | float
    kill_grace: str | float
    catchup: bool
    overlap: str
    max_active_runs: int
    dst: model.DstPolicy | Mapping[str, str]
    grace: str | float
    expected_duration: str | float
    params: Mapping[str, str | int | float | bool]
    pingable: bool
    defaults: Mapping[str, object]


@dataclass(frozen=True)
class TaskRef:
    """A task added inside a ``@job`` body; stands for its result when passed to another task."""

    name: str
    job: str
    builder: _JobBuilder = field(repr=False, compare=False)


_building: ContextVar[_JobBuilder | None] = ContextVar("runwatch_job_builder", default=None)


def _origin(function: Callable[..., Any]) -> Location:
    code = getattr(function, "__code__", None)
    if code is None:
        return Location("<python>")
    return Location(code.co_filename, code.co_firstlineno)


def _caller(depth: int) -> Location:
    """The file and line of the code ``depth`` frames above the caller of this function."""
    frame = sys._getframe(depth + 1)
    return Location(frame.f_code.co_filename, frame.f_lineno)


def _folder(where: Location) -> str:
    return os.path.dirname(os.path.abspath(where.file))


def _options(raw: Mapping[str, object], allowed: Sequence[str], where: Location) -> dict[str, Any]:
    """Check and convert task options given in Python (all but ``after`` and ``name``)."""
    config_fields.check_keys(raw, allowed, where)
    plain = {k: v for k, v in raw.items() if k not in ("cwd", "after", "name")}
    source = plain.get("map_over")
    if isinstance(source, TaskRef):
        plain["map_over"] = source.name
    options = config_fields.convert(plain, fields.TASK_CONVERTERS, where)
    if raw.get("cwd") is not None:
        options["cwd"] = fields.cwd(raw["cwd"], where.at("cwd"), _folder(where))
    return options


def _listed(value: object) -> list[object]:
    """``after`` given as one item or as a list of items."""
    if isinstance(value, str | TaskRef):
        return [value]
    if isinstance(value, list | tuple):
        return list(value)
    return [value]


class TaskFunction(Generic[P, R]):
    """A function made a task by ``@task``: a plain call outside a job, a new task inside one."""

    def __init__(self, function: Callable[P, R], raw: Mapping[str, Any], where: Location) -> None:
        self.function = function
        self.raw: dict[str, Any] = dict(raw)
        self.task_name = fields.name(
            raw.get("name", getattr(function, "__name__", None)), where.at("name"), "task"
        )
        self.where = where.in_task(self.task_name)
        if "skip_exit_code" in self.raw:
            raise self.where.at("skip_exit_code").error(NO_EXIT_CODE)
        self.options = _options(self.raw, _TASK_OPTIONS, self.where)
        functools.update_wrapper(self, function)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        builder = _building.get()
        if builder is None:
            return self.function(*args, **kwargs)
        return cast(R, builder.add_python(self, args, dict(kwargs), _caller(1)))

    def map(self, items: TaskRef, /, *args: Any, **kwargs: Any) -> TaskRef:
        """Inside a ``@job`` body: a task run once per element of the list ``items`` (a
        task's result), each instance called with its element in place of ``items``."""
        builder = _building.get()
        at = _caller(1)
        if builder is None:
            raise at.error("map() can only be called inside a @job function body")
        if not isinstance(items, TaskRef):
            raise (
                at.in_task(self.task_name)
                .at("map_over")
                .error(f"map() takes the task whose list result to map over, got {items!r}")
            )
        return builder.add_python(self, (items, *args), kwargs, at, map_over=items)

    def with_options(self, **overrides: Unpack[TaskOptions]) -> TaskFunction[P, R]:
        """A new task function for the same function with some options changed."""
        return TaskFunction(self.function, {**self.raw, **overrides}, self.where)

    def __repr__(self) -> str:
        return f"<task {self.task_name!r} of {self.function!r}>"


class _JobBuilder:
    """Collects the tasks a ``@job`` body adds."""

    def __init__(self, job: str, defaults: Mapping[str, Any]) -> None:
        self.job = job
        self.defaults = defaults
        self.tasks: dict[str, model.Task] = {}
        self.places: dict[str, Location] = {}
        self.functions: dict[str, Callable[..., Any]] = {}

    def add_python(
        self,
        task: TaskFunction[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        at: Location,
        *,
        map_over: TaskRef | None = None,
    ) -> TaskRef:
        where = at.in_job(self.job).in_task(task.task_name)
        self._check_new(task.task_name, where, task.function)
        explicit_after = _listed(kwargs.pop("after", ()))
        upstream: list[str] = []
        args = tuple(self._argument(value, where, upstream) for value in args)
        kwargs = {key: self._argument(value, where, upstream) for key, value in kwargs.items()}
        own = {
            **task.options,
            "python": task.function,
            "args": args,
            "kwargs": tuple(kwargs.items()),
            "after": self._after(
                [*upstream, *explicit_after, *_listed(task.raw.get("after", ()))], where
            ),
        }
        if map_over is not None:
            own["map_over"] = self._own(map_over, where).name
        return self._add(task.task_name, own, where)

    def add_command(
        self, name: str, cmd: object, raw: Mapping[str, object], at: Location
    ) -> TaskRef:
        task_name = fields.name(name, at.in_job(self.job).at("name"), "task")
        where = at.in_job(self.job).in_task(task_name)
        self._check_new(task_name, where, None)
        own = _options(raw, _COMMAND_OPTIONS, where)
        own["command"] = fields.command(cmd, where.at("command"))
        own["after"] = self._after(_listed(raw.get("after", ())), where)
        return self._add(task_name, own, where)

    def add_sensor(
        self,
        name: str,
        condition: Mapping[str, object],
        after: Sequence[TaskRef | str],
        trigger: str | None,
        at: Location,
    ) -> TaskRef:
        from runner.definitions.sensors import parse_sensor  # only jobs with sensors

        task_name = fields.name(name, at.in_job(self.job).at("name"), "task")
        where = at.in_job(self.job).in_task(task_name)
        self._check_new(task_name, where, None)
        own: dict[str, Any] = {
            "sensor": parse_sensor(condition, where.at("sensor"), _callable, _folder(where)),
            "after": self._after(_listed(after), where),
        }
        if trigger is not None:
            own["trigger"] = fields.TASK_CONVERTERS["trigger"](trigger, where.at("trigger"))
        return self._add(task_name, own, where)

    def _add(self, name: str, own: dict[str, Any], where: Location) -> TaskRef:
        self.tasks[name] = assemble_task(name, own, self.defaults, where.at)
        self.places[name] = where
        return TaskRef(name, self.job, self)

    def _check_new(self, name: str, where: Location, function: Callable[..., Any] | None) -> None:
        if name not in self.tasks:
            if function is not None:
                self.functions[name] = function
            return
        if function is not None and self.functions.get(name) is function:
            raise where.error(
                f"task {name!r} is already used in this job (line {self.places[name].line}); "
                f"to use it again, give it its own name: "
                f'{function.__name__}.with_options(name="{name}_2")(...)'
            )
        raise where.error(
            f"a task named {name!r} is already in this job (line {self.places[name].line})"
        )

    def _argument(self, value: object, where: Location, upstream: list[str]) -> object:
        if isinstance(value, TaskRef):
            upstream.append(self._own(value, where).name)
            return model.UpstreamResult(value.name)
        if _holds_ref(value):
            raise where.error(
                "a task result can only be passed as a whole argument, not inside a list or dict"
            )
        return value

    def _own(self, ref: TaskRef, where: Location) -> TaskRef:
        if ref.builder is not self:
            raise where.error(f"task {ref.name!r} belongs to job {ref.job!r}, not this one")
        return ref

    def _after(self, items: list[object], where: Location) -> tuple[str, ...]:
        names = [
            self._own(item, where).name if isinstance(item, TaskRef) else item for item in items
        ]
        return fields.after(names, where.at("after"))


def _callable(value: object, where: Location) -> Callable[..., Any]:
    if not callable(value):
        raise where.error(f"expected a function returning true when ready, got {value!r}")
    return value


def _holds_ref(value: object) -> bool:
    if isinstance(value, TaskRef):
        return True
    if isinstance(value, Mapping):
        return any(_holds_ref(k) or _holds_ref(v) for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return any(_holds_ref(item) for item in value)
    return False


def _check_no_arguments(body: Callable[..., Any], where: Location) -> None:
    try:
        inspect.signature(body).bind()
    except TypeError:
        raise where.error("a @job function takes no arguments") from None
    except ValueError:  # no signature to check
        return


@overload
def task(function: Callable[P, R], /) -> TaskFunction[P, R]: ...
@overload
def task(
    function: None = None, /, **options: Unpack[TaskOptions]
) -> Callable[[Callable[P, R]], TaskFunction[P, R]]: ...
def task(
    function: Callable[P, R] | None = None, /, **options: Unpack[TaskOptions]
) -> TaskFunction[P, R] | Callable[[Callable[P, R]], TaskFunction[P, R]]:
    """Make a function a task, bare (``@task``) or with options (``@task(retries=2)``)."""

    def decorate(function: Callable[P, R]) -> TaskFunction[P, R]:
        return TaskFunction(function, dict(options), _origin(function))

    return decorate if function is None else decorate(function)


def command(name: str, cmd: str | Sequence[str], **options: Unpack[CommandOptions]) -> TaskRef:
    """Inside a ``@job`` body, add a command task (argv list, or a string for ``/bin/sh -c``)."""
    builder = _building.get()
    at = _caller(1)
    if builder is None:
        raise at.error("command() can only be called inside a @job function body")
    raw = dict(options)
    return builder.add_command(name, list(cmd) if isinstance(cmd, tuple) else cmd, raw, at)


def sensor(
    name: str,
    *,
    after: Sequence[TaskRef | str] = (),
    trigger: str | None = None,
    **condition: object,
) -> TaskRef:
    """Inside a ``@job`` body, add a sensor task: ``sensor("wait", file="/in/{{ds}}/*.csv",
    interval="1m", timeout="6h")``; ``python=`` takes a callable returning true when ready."""
    builder = _building.get()
    at = _caller(1)
    if builder is None:
        raise at.error("sensor() can only be called inside a @job function body")
    return builder.add_sensor(name, condition, after, trigger, at)


@overload
def job(function: Callable[[], object], /) -> model.Job: ...
@overload
def job(
    function: None = None, /, **options: Unpack[JobOptions]
) -> Callable[[Callable[[], object]], model.Job]: ...
def job(
    function: Callable[[], object] | None = None, /, **options: Unpack[JobOptions]
) -> model.Job | Callable[[Callable[[], object]], model.Job]:
    """Build a job by running the decorated function's body once; returns the model.Job."""

    def decorate(function: Callable[[], object]) -> model.Job:
        return _build_job(function, dict(options))

    return decorate if function is None else decorate(function)


def _build_job(body: Callable[[], object], options: dict[str, Any]) -> model.Job:
    origin = _origin(body)
    name = fields.name(
        options.get("name", getattr(body, "__name__", None)), origin.at("name"), "job"
    )
    where = origin.in_job(name)
    config_fields.check_keys(options, (*fields.JOB_KEYS, "name", "defaults"), where)
    job_options = config_fields.convert(
        {k: v for k, v in options.items() if k in fields.JOB_KEYS}, fields.JOB_CONVERTERS, where
    )
    defaults = options.get("defaults") or {}
    if not isinstance(defaults, Mapping):
        raise where.at("defaults").error(f"expected a mapping of task options, got {defaults!r}")
    inherited = _options(defaults, fields.TASK_DEFAULT_KEYS, where.at("defaults"))
    _check_no_arguments(body, where)
    builder = _JobBuilder(name, inherited)
    token = _building.set(builder)
    try:
        body()
    finally:
        _building.reset(token)
    if not builder.tasks:
        raise where.error("the job body added no tasks; call @task functions or command() in it")
    return assemble_job(
        name,
        builder.tasks,
        job_options,
        where.file,
        lambda task: builder.places[task].at("after"),
        locate=lambda task, key: builder.places[task].at(key),
    )
