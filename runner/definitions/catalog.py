"""Loading job definitions from files and folders and merging them into one catalog."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from runner import model
from runner.definitions.dependencies import check_dependencies
from runner.definitions.jobfile import parse_job_file
from runner.definitions.yamlsource import read_yaml
from runner.errors import DefinitionError

SUFFIXES = (".yaml", ".yml", ".py")
"""The kinds of file a jobs folder is scanned for."""
SETTINGS_NAMES = ("runwatch.yaml", "runwatch.yml")
"""Settings files, skipped when a folder is scanned (``jobs: .`` next to runwatch.yaml)."""


def load_definitions(
    paths: Sequence[Path], *, settings_file: Path | None = None
) -> model.Definitions:
    """Load and merge the jobs and pools of every file, and of every job file in every folder.

    ``settings_file`` is runwatch.yaml when it holds jobs itself (``Settings.config_path``):
    its settings keys are then left to runner.config instead of being rejected.
    """
    jobs: dict[str, model.Job] = {}
    pools: dict[str, int] = {}
    pool_sources: dict[str, Path] = {}
    settings = settings_file.resolve() if settings_file is not None else None
    for path in _job_files(paths):
        found = _load_file(path, settings_file=path.resolve() == settings)
        for name, job in found.jobs.items():
            if name in jobs:
                raise DefinitionError(
                    f"job {name!r} is defined in both {jobs[name].source} and {job.source}"
                )
            jobs[name] = job
        for pool, size in found.pools.items():
            if pools.setdefault(pool, size) != size:
                raise DefinitionError(
                    f"pool {pool!r} has size {pools[pool]} in {pool_sources[pool]} "
                    f"and size {size} in {path}"
                )
            pool_sources.setdefault(pool, path)
    check_dependencies(jobs)
    return model.Definitions(jobs=jobs, pools=pools)


def _job_files(paths: Sequence[Path]) -> Iterator[Path]:
    """Each file given, and the job files of each folder given (sorted, not recursive)."""
    seen: set[Path] = set()
    for path in paths:
        if not path.exists():
            raise DefinitionError(f"jobs path '{path}' does not exist")
        if path.is_dir():
            files = sorted(
                child
                for child in path.iterdir()
                if child.suffix in SUFFIXES
                and not child.name.startswith(("_", "."))
                and child.name not in SETTINGS_NAMES
                and child.is_file()
            )
        elif path.suffix in SUFFIXES:
            files = [path]
        else:
            raise DefinitionError(f"jobs path '{path}' is not a .yaml, .yml or .py file")
        for file in files:
            if file.resolve() not in seen:
                seen.add(file.resolve())
                yield file


def _load_file(path: Path, *, settings_file: bool) -> model.Definitions:
    if path.suffix == ".py":
        # Python job files only: importing them costs a YAML-only `runwatch run` ~5 ms.
        from runner.definitions.pyfile import load_python_file

        return load_python_file(path)
    return parse_job_file(read_yaml(path), path, settings_file=settings_file)
