"""Scale-out: task attempts on Celery workers, and recovery of the work of dead processes.

Celery is imported only when an app is created (``runwatch worker``, or an engine whose
``executor.kind`` is ``celery``). The names below are loaded on first use, so a local
``runwatch run`` that only asks ``runner.executors.kinds`` for its executor loads no
worker, recovery or Celery executor code.
"""

import typing as _typing

from runner.lazy_names import lazy_names as _lazy_names

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


__getattr__, __dir__ = _lazy_names(__name__, _HOMES, globals())
