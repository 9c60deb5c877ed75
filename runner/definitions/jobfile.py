"""YAML job files: from the parsed document to model.Job values, checking every key.

A file holds ``pools:``, ``defaults:`` (owner and tags for its jobs, the rest for
every task) and ``jobs:``. A job has ``tasks:``, or is a one-task job with
``command:`` or ``python:`` and the task's keys at job level.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner import config_fields, model
from runner.config_fields import Location
from runner.definitions import fields
from runner.definitions.assembly import assemble_job, assemble_task, merge_options
from runner.definitions.yamlsource import YamlMapping, to_plain

FILE_KEYS = ("pools", "defaults", "jobs")
"""The top-level keys of a job file."""

_ONE_TASK_JOB_KEYS = (
    *(key for key in fields.JOB_KEYS if key != "timeout"),
    "defaults",
    *(key for key in fields.TASK_KEYS if key not in ("after", "trigger")),
)
_DAG_JOB_KEYS = (*fields.JOB_KEYS, "defaults", "tasks")


@dataclass(frozen=True)
class _File:
    """What every job of one file shares."""

    source: str
    folder: Path
    job_defaults: Mapping[str, Any] = field(default_factory=dict)
    task_defaults: Mapping[str, Any] = field(default_factory=dict)


def parse_job_file(data: object, path: Path, *, settings_file: bool = False) -> model.Definitions:
    """The jobs and pools of one parsed YAML job file.

    With ``settings_file`` the file is runwatch.yaml holding jobs too: only the job-file
    keys are read and the others are left to runner.config.
    """
    top = Location(str(path))
    if data is None:
        return model.Definitions(jobs={})
    if not isinstance(data, YamlMapping):
        raise top.error(f"expected a mapping with 'jobs:' at the top, got {type(data).__name__}")
    if not settings_file:
        config_fields.check_keys(data, FILE_KEYS, top, data.line_of)
    raw_pools = data.get("pools")
    pools = fields.pool_sizes(raw_pools, top.at("pools", data.line_of("pools")), _lines(raw_pools))
    file = _file_context(data, path)
    jobs = data.get("jobs")
    if jobs is None:
        return model.Definitions(jobs={}, pools=pools)
    if not isinstance(jobs, YamlMapping):
        raise top.at("jobs", data.line_of("jobs")).error(
            f"expected a mapping of job names to jobs, got {type(jobs).__name__}"
        )
    built = {}
    for key, raw in jobs.items():
        job = _job(key, raw, Location(file.source, jobs.line_of(key)), file)
        built[job.name] = job
    return model.Definitions(jobs=built, pools=pools)


def _locator(where: Location, body: YamlMapping) -> Callable[[str], Location]:
    """Locates a key of ``body``, which is at ``where``."""
    return lambda key: where.at(key, body.line_of(key))


def _lines(value: object) -> Callable[[str], int | None]:
    return value.line_of if isinstance(value, YamlMapping) else lambda _key: None


def _file_context(data: YamlMapping, path: Path) -> _File:
    folder = path.parent.absolute()
    raw = data.get("defaults")
    if raw is None:
        return _File(str(path), folder)
    where = Location(str(path), data.line_of("defaults"), key="defaults")
    mapping = _mapping(raw, where, "a mapping of defaults")
    allowed = (*fields.FILE_DEFAULT_JOB_KEYS, *fields.TASK_DEFAULT_KEYS)
    config_fields.check_keys(mapping, allowed, where, mapping.line_of)
    job_part = {k: v for k, v in mapping.items() if k in fields.FILE_DEFAULT_JOB_KEYS}
    task_part = {k: v for k, v in mapping.items() if k not in fields.FILE_DEFAULT_JOB_KEYS}
    return _File(
        str(path),
        folder,
        config_fields.convert(job_part, fields.JOB_CONVERTERS, where, mapping.line_of),
        _task_options(task_part, mapping.line_of, where, folder),
    )


def _mapping(value: object, where: Location, expected: str) -> YamlMapping:
    if not isinstance(value, YamlMapping):
        shown = "nothing" if value is None else f"{type(value).__name__} {value!r}"
        raise where.error(f"expected {expected}, got {shown}")
    return value


def _job(key: object, raw: object, at: Location, file: _File) -> model.Job:
    name = fields.name(key, at, "job")
    where = at.in_job(name)
    body = _mapping(raw, where, "a mapping of job keys")
    has_tasks = "tasks" in body
    if has_tasks == ("command" in body or "python" in body):
        if not has_tasks:  # a typo'd `comand:` is the likelier mistake: name it
            config_fields.check_keys(
                body, {*_ONE_TASK_JOB_KEYS, *_DAG_JOB_KEYS}, where, body.line_of
            )
        problem = "has both 'tasks' and" if has_tasks else "needs 'tasks' or, for a one-task job,"
        raise where.error(f"a job {problem} 'command' or 'python'")
    if has_tasks:
        _check_dag_keys(body, where)
    else:
        config_fields.check_keys(body, _ONE_TASK_JOB_KEYS, where, body.line_of)
    job_keys = {k: v for k, v in body.items() if k in fields.JOB_KEYS}
    if not has_tasks:
        job_keys.pop("timeout", None)  # in a one-task job, timeout is the task's (per attempt)
    own_options = config_fields.convert(job_keys, fields.JOB_CONVERTERS, where, body.line_of)
    options = {**file.job_defaults, **own_options}
    inherited = merge_options(file.task_defaults, _job_defaults(body, where, file))
    if has_tasks:
        tasks, places = _tasks(body, where, inherited, file)
    else:
        own = _task_options(
            {k: v for k, v in body.items() if k in fields.TASK_KEYS},
            body.line_of,
            where,
            file.folder,
        )
        tasks = {name: assemble_task(name, own, inherited, _locator(where, body))}
        places = {name: _locator(where, body)}
    return assemble_job(
        name,
        tasks,
        options,
        file.source,
        lambda task: places[task]("after"),
        locate=lambda task, key: places[task](key),
    )


def _job_defaults(body: YamlMapping, where: Location, file: _File) -> dict[str, Any]:
    if body.get("defaults") is None:
        return {}
    at = where.at("defaults", body.line_of("defaults"))
    defaults = _mapping(body["defaults"], at, "a mapping of task defaults")
    config_fields.check_keys(defaults, fields.TASK_DEFAULT_KEYS, at, defaults.line_of)
    return _task_options(defaults, defaults.line_of, at, file.folder)


def _check_dag_keys(body: YamlMapping, where: Location) -> None:
    for key in body:
        if key not in _DAG_JOB_KEYS and key in fields.TASK_KEYS:
            raise where.at(str(key), body.line_of(key)).error(
                "this is a task key: set it on each task, or for all of them under 'defaults:'"
            )
    config_fields.check_keys(body, _DAG_JOB_KEYS, where, body.line_of)


def _tasks(
    body: YamlMapping, where: Location, inherited: Mapping[str, Any], file: _File
) -> tuple[dict[str, model.Task], dict[str, Callable[[str], Location]]]:
    at_tasks = where.at("tasks", body.line_of("tasks"))
    raw_tasks = _mapping(body["tasks"], at_tasks, "a mapping of task names to tasks")
    if not raw_tasks:
        raise at_tasks.error("a job needs at least one task")
    tasks: dict[str, model.Task] = {}
    places: dict[str, Callable[[str], Location]] = {}
    for key, raw in raw_tasks.items():
        line = raw_tasks.line_of(key)
        name = fields.name(key, where.in_task(str(key), line), "task")
        at = where.in_task(name, line)
        task_body = _mapping(raw, at, "a mapping with 'command' or 'python'")
        config_fields.check_keys(task_body, fields.TASK_KEYS, at, task_body.line_of)
        own = _task_options(task_body, task_body.line_of, at, file.folder)
        tasks[name] = assemble_task(name, own, inherited, _locator(at, task_body))
        places[name] = _locator(at, task_body)
    return tasks, places


def _task_options(
    raw: Mapping[str, object], lines: Callable[[str], int | None], where: Location, folder: Path
) -> dict[str, Any]:
    """Convert the task keys of ``raw`` (already checked for unknown keys)."""

    def at(key: str) -> Location:
        return where.at(key, lines(key))

    plain = {k: v for k, v in raw.items() if k in fields.TASK_CONVERTERS}
    options = config_fields.convert(plain, fields.TASK_CONVERTERS, where, lines)
    if raw.get("cwd") is not None:
        options["cwd"] = fields.cwd(raw["cwd"], at("cwd"), str(folder))
    if raw.get("sensor") is not None:
        from runner.definitions.sensors import parse_sensor, yaml_importer

        options["sensor"] = parse_sensor(
            raw["sensor"], at("sensor"), yaml_importer(folder), str(folder)
        )
    if raw.get("python") is not None:
        from runner.definitions.pyfile import import_callable  # only YAML with Python tasks

        options["python"] = import_callable(raw["python"], folder, at("python"))
    if raw.get("args") is not None:
        if not isinstance(raw["args"], list):
            raise at("args").error(f"expected a list of arguments, got {raw['args']!r}")
        options["args"] = tuple(to_plain(raw["args"]))
    if raw.get("kwargs") is not None:
        kwargs = _mapping(raw["kwargs"], at("kwargs"), "a mapping of argument names to values")
        if not all(isinstance(key, str) for key in kwargs):
            raise at("kwargs").error("argument names must be strings")
        options["kwargs"] = tuple(to_plain(kwargs).items())
    return options
