"""Loading user Python code: ``.py`` job files and ``module:function`` references."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib
import importlib.util
import re
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runner import model
from runner.config_fields import Location
from runner.definitions.python_api import TaskFunction
from runner.errors import DefinitionError

_REFERENCE = re.compile(r"([A-Za-z_][\w.]*):([A-Za-z_][\w.]*)")


def load_python_file(path: Path) -> model.Definitions:
    """Import a ``.py`` job file and collect every model.Job at its module level.

    The file's folder goes on ``sys.path`` (so it can import its neighbours); the
    module is registered in ``sys.modules`` under a name unique to the path.
    """
    module_name = _module_name(path)
    spec = importlib.util.spec_from_file_location(module_name, str(path))
    if spec is None or spec.loader is None:
        raise DefinitionError(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    _add_to_sys_path(path.parent)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except DefinitionError:
        del sys.modules[module_name]
        raise
    except (Exception, SystemExit) as exc:
        del sys.modules[module_name]
        raise DefinitionError(f"{path}: error while loading: {_describe(exc, path)}") from None
    return model.Definitions(jobs=_collect_jobs(vars(module), path))


def _collect_jobs(namespace: dict[str, Any], path: Path) -> dict[str, model.Job]:
    jobs: dict[str, model.Job] = {}
    seen: dict[str, str] = {}
    for variable, value in namespace.items():
        if not isinstance(value, model.Job) or jobs.get(value.name) is value:
            continue
        if value.name in jobs:
            raise DefinitionError(
                f"{path}: job {value.name!r} is defined twice "
                f"(as {seen[value.name]!r} and {variable!r})"
            )
        jobs[value.name] = value
        seen[value.name] = variable
    return {name: dataclasses.replace(job, source=str(path)) for name, job in jobs.items()}


def _module_name(path: Path) -> str:
    digest = hashlib.sha1(str(path.resolve()).encode(), usedforsecurity=False).hexdigest()[:10]
    stem = re.sub(r"\W", "_", path.stem)
    return f"runwatch_jobs_{stem}_{digest}"


def _add_to_sys_path(folder: Path) -> None:
    entry = str(folder.resolve())
    if entry not in sys.path:
        sys.path.insert(0, entry)


def _describe(exc: BaseException, path: Path) -> str:
    """``ZeroDivisionError: division by zero (line 12)``, the deepest line of ``path``."""
    if isinstance(exc, SyntaxError):
        return f"{type(exc).__name__}: {exc.msg} (line {exc.lineno})"
    line = None
    target = str(path.resolve())
    for frame in traceback.extract_tb(exc.__traceback__):
        if str(Path(frame.filename).resolve()) == target:
            line = frame.lineno
    where = f" (line {line})" if line is not None else ""
    return f"{type(exc).__name__}: {exc}{where}"


def import_callable(reference: object, folder: Path, where: Location) -> Callable[..., Any]:
    """The function named by ``"package.module:function"``, imported with ``folder`` on sys.path."""
    match = _REFERENCE.fullmatch(reference) if isinstance(reference, str) else None
    if match is None:
        raise where.error(f"expected 'module:function', got {reference!r}")
    module_name, attribute = match.groups()
    _add_to_sys_path(folder)
    try:
        target: Any = importlib.import_module(module_name)
    except Exception as exc:
        raise where.error(f"cannot import {module_name!r}: {type(exc).__name__}: {exc}") from None
    for part in attribute.split("."):
        if not hasattr(target, part):
            raise where.error(f"module {module_name!r} has no attribute {attribute!r}")
        target = getattr(target, part)
    if not callable(target):
        raise where.error(f"{reference!r} is not callable")
    # A @task function stands for its plain function here; YAML keys give the options.
    return target.function if isinstance(target, TaskFunction) else target
