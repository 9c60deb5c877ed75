"""The Celery application: one task, ``runwatch.run_attempt``, delivered at least once.

Messages are acknowledged after the attempt ends (``acks_late``) and given back to the
broker when the worker process dies (``task_reject_on_worker_lost``), so a worker lost
before it claimed an attempt does not lose it; the claim in the store makes every
redelivery after that a no-op. Each worker process reserves one message at a time.
Outcomes travel through the store, so there is no result backend.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from runner.executors.celery.settings import CelerySettings

TASK_NAME = "runwatch.run_attempt"
REDIS_VISIBILITY_TIMEOUT_SECONDS = 3600.0
"""Redis gives an unacknowledged message to another worker after this long; that copy
finds its attempt claimed (or decided) and is dropped."""
PUBLISH_RETRIES = 3


def create_app(
    settings: CelerySettings, *, run_attempt: Callable[[dict[str, Any]], str] | None = None
) -> Any:
    """A Celery app for ``settings``; with ``run_attempt`` it can also work (a worker)."""
    from celery import Celery

    app = Celery("runwatch", broker=settings.broker_url.reveal(), set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_ignore_result=True,
        task_default_queue=settings.queue,
        task_publish_retry=True,
        task_publish_retry_policy={
            "max_retries": PUBLISH_RETRIES,
            "interval_start": 0.2,
            "interval_step": 0.5,
            "interval_max": 2.0,
        },
        broker_connection_retry_on_startup=True,
        broker_transport_options={"visibility_timeout": REDIS_VISIBILITY_TIMEOUT_SECONDS},
        worker_enable_remote_control=False,
        worker_send_task_events=False,
        worker_hijack_root_logger=False,
        enable_utc=True,
    )
    if run_attempt is not None:
        app.task(
            name=TASK_NAME,
            acks_late=True,
            reject_on_worker_lost=True,
            ignore_result=True,
        )(run_attempt)
    return app
