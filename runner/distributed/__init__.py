"""Scale-out: task attempts on Celery workers, and recovery of the work of dead processes.

Celery is imported only when an app is created (``runwatch worker``, or an engine whose
``executor.kind`` is ``celery``).
"""

from runner.distributed.executor import CeleryExecutor
from runner.distributed.kinds import build_executor
from runner.distributed.recovery import OrphanRecovery, Recovered, orphan_recovery
from runner.distributed.settings import CelerySettings, celery_settings, executor_kind
from runner.distributed.worker import WorkerRuntime

__all__ = [
    "CeleryExecutor",
    "CelerySettings",
    "OrphanRecovery",
    "Recovered",
    "WorkerRuntime",
    "build_executor",
    "celery_settings",
    "executor_kind",
    "orphan_recovery",
]
