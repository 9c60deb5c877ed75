"""Scale-out: task attempts on Celery workers, and recovery of the work of dead processes.

Celery is imported only when an app is created (``runwatch worker``, or an engine whose
``executor.kind`` is ``celery``). The names below are loaded on first use, so a local
``runwatch run`` that only asks ``runner.executors.kinds`` for its executor loads no
worker, recovery or Celery executor code.
"""

import importlib as _importlib
import typing as _typing

if _typing.TYPE_CHECKING:
    from runner.executors.celery.executor import CeleryExecutor
    from runner.executors.celery.recovery import OrphanRecovery, Recovered, orphan_recovery
    from runner.executors.celery.settings import CelerySettings, celery_settings, executor_kind
    from runner.executors.celery.worker import WorkerRuntime

_HOMES = {
    "CeleryExecutor": "executor",
    "CelerySettings": "settings",
    "OrphanRecovery": "recovery",
    "Recovered": "recovery",
    "WorkerRuntime": "worker",
    "celery_settings": "settings",
    "executor_kind": "settings",
    "orphan_recovery": "recovery",
}

__all__ = [
    "CeleryExecutor",
    "CelerySettings",
    "OrphanRecovery",
    "Recovered",
    "WorkerRuntime",
    "celery_settings",
    "executor_kind",
    "orphan_recovery",
]


def __getattr__(name: str) -> _typing.Any:
    """Load a public name from its module on first use."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(_importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
