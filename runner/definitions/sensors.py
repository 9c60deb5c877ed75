"""The ``sensor:`` key of a task: what it waits for, how often it looks, and for how long.

``sensor: {file: "/data/in/{{ds}}/*.csv", interval: 1m, timeout: 6h, on_timeout: fail}``
— exactly one condition (``file``, ``http``, ``sql`` with ``db_url``, ``job``,
``command``, ``python``), a required ``timeout``, and the template values of
runner.engine.templates in globs, URLs and argv items.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from runner import config_fields
from runner.config_fields import Location, choice, duration, shown, text, whole_number
from runner.definitions import fields
from runner.model import OnTimeout, Sensor, SensorKind

CONDITIONS = tuple(kind.value for kind in SensorKind)
KEYS = (*CONDITIONS, "interval", "timeout", "on_timeout", "status", "db_url")


def parse_sensor(
    value: object,
    where: Location,
    importer: Callable[[object, Location], Callable[..., Any]],
    folder: str,
) -> Sensor:
    """A model.Sensor from the ``sensor:`` mapping at ``where``; ``importer`` turns a
    ``python:`` reference (or, from Python, a callable) into the callable; a relative
    ``file:`` glob is taken relative to ``folder`` (the defining file's)."""
    if not isinstance(value, Mapping):
        raise where.error(
            f"expected a mapping with one condition and 'timeout', got {shown(value)}"
        )
    config_fields.check_keys(value, KEYS, where)
    given = [key for key in CONDITIONS if key in value]
    if len(given) != 1:
        found = ", ".join(given) or "none"
        raise where.error(f"a sensor needs exactly one of {', '.join(CONDITIONS)} (got {found})")
    kind = SensorKind(given[0])
    if "timeout" not in value:
        raise where.error("a sensor needs 'timeout': how long to wait before giving up")
    at = where.at(kind.value)
    options: dict[str, Any] = {
        "timeout": duration(value["timeout"], where.at("timeout"), positive=True),
        "interval": duration(value.get("interval", 60), where.at("interval"), positive=True),
        "on_timeout": choice(value.get("on_timeout", "fail"), where.at("on_timeout"), OnTimeout),
    }
    if "status" in value:
        if kind is not SensorKind.HTTP:
            raise where.at("status").error("'status' is for an http sensor")
        options["status"] = whole_number(value["status"], where.at("status"), 100, 599)
    if ("db_url" in value) != (kind is SensorKind.SQL):
        raise where.at("db_url").error("an sql sensor needs 'db_url', and only it takes one")
    if kind is SensorKind.SQL:
        options["db_url"] = text(value["db_url"], where.at("db_url"), lambda _v: "that value")
    target = _target(kind, value[kind.value], at, importer)
    if kind is SensorKind.FILE:
        target = os.path.join(folder, target)
    return Sensor(kind=kind, target=target, **options)


def _target(
    kind: SensorKind,
    raw: object,
    at: Location,
    importer: Callable[[object, Location], Callable[..., Any]],
) -> Any:
    match kind:
        case SensorKind.PYTHON:
            return importer(raw, at)
        case SensorKind.JOB:
            return fields.name(raw, at, "job")
        case SensorKind.COMMAND:
            command = fields.command(raw, at)
            if not isinstance(command, str):
                for item in command:
                    _check_templates(item, at)
            return command
    target = text(raw, at)
    if kind is SensorKind.HTTP and not target.startswith(("http://", "https://")):
        raise at.error(f"expected an http:// or https:// URL, got {shown(target)}")
    if kind is not SensorKind.SQL:  # a query takes the values as bind parameters instead
        _check_templates(target, at)
    return target


def _check_templates(value: str, at: Location) -> None:
    from runner.engine import templates  # the engine's rules, loaded for sensors only

    name = templates.unknown(value)
    if name is not None:
        known = ", ".join((*templates.NAMES, "params.NAME"))
        raise at.error(f"unknown template value {{{{{name}}}}} (known: {known})")


def yaml_importer(folder: Path) -> Callable[[object, Location], Callable[..., Any]]:
    """Imports ``module:function`` relative to a job file's folder."""

    def load(reference: object, where: Location) -> Callable[..., Any]:
        from runner.definitions.pyfile import import_callable  # only YAML with Python sensors

        return import_callable(reference, folder, where)

    return load
