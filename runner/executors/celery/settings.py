"""The ``executor:`` section of runwatch.yaml, for the Celery executor and its workers.

```yaml
executor:
  kind: celery                      # local (the default) or celery
  broker_url: ${CELERY_BROKER_URL}  # redis://… or amqp://…; RUNWATCH_CELERY_BROKER_URL wins
  queue: runwatch                   # where tasks without a `queue:` go
  heartbeat_interval: 5s            # how often a worker renews a running attempt
  orphan_after: 30s                 # an attempt whose heartbeat is older is orphaned
  poll_interval: 200ms              # how often outcomes and stop requests are looked for
  claim_timeout: 5m                 # not claimed by a worker by then: sent once more, then failed
  signing_key: ${RUNWATCH_SIGNING_KEY}  # optional: HMAC-sign messages (32+ characters)
```
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from runner import config_fields
from runner.config import Settings
from runner.config_fields import Location
from runner.errors import DefinitionError
from runner.executors.celery.signing import MIN_KEY_LENGTH
from runner.secret import Secret
from runner.store.database import redact_url

BROKER_URL_VARIABLE = "RUNWATCH_CELERY_BROKER_URL"
KINDS = ("local", "celery")
_KEYS = (
    "kind",
    "broker_url",
    "queue",
    "heartbeat_interval",
    "orphan_after",
    "poll_interval",
    "claim_timeout",
    "signing_key",
)
_SCHEMES = ("redis", "rediss", "amqp", "amqps", "pyamqp")


@dataclass(frozen=True)
class CelerySettings:
    """Where attempts are sent and how their workers are watched."""

    broker_url: Secret = field(repr=False)
    queue: str = "runwatch"
    heartbeat_interval: float = 5.0
    orphan_after: float = 30.0
    poll_interval: float = 0.2
    claim_timeout: float = 300.0
    """An attempt no worker claimed this long after it was sent is sent once more, and
    failed with the reason ``not claimed`` when that is not claimed in time either."""
    signing_key: Secret | None = field(default=None, repr=False)
    """Shared by schedulers and workers: messages are signed, unsigned ones rejected."""

    @property
    def kept_command_fence(self) -> float:
        """How long a worker's command runs on under its keeper once the worker is gone and
        nothing on its host renews the attempt's lease: until two heartbeats before another
        host may take the attempt over (``orphan_after`` after the last heartbeat, which
        may be one interval before the worker died), so it is never run twice at once."""
        return self.orphan_after - 2 * self.heartbeat_interval

    @property
    def broker_redacted(self) -> str:
        """The broker URL with any password hidden, fit for logs."""
        return redact_url(self.broker_url.reveal())


def executor_kind(settings: Settings) -> str:
    """``local`` or ``celery``: what runs the attempts of this process's engine."""
    display = str(settings.config_path) if settings.config_path else "runwatch.yaml"
    config_fields.check_keys(settings.executor, _KEYS, Location(display, key="executor"))
    kind = settings.executor.get("kind", "local")
    if kind not in KINDS:
        raise _where(settings, "kind").error(
            f"expected one of {', '.join(KINDS)}, got {config_fields.shown_safely(kind)}"
        )
    return str(kind)


def require_celery() -> None:
    """Raise DefinitionError (exit 2) when Celery is not installed."""
    from importlib.util import find_spec

    if find_spec("celery") is None:
        raise DefinitionError(
            "runwatch.yaml: key 'executor.kind': celery needs the Celery package: "
            "pip install 'runwatch[celery]'"
        )


def celery_settings(settings: Settings, env: Mapping[str, str]) -> CelerySettings:
    """The Celery settings of ``executor:``, with ``RUNWATCH_CELERY_BROKER_URL`` on top."""
    section = settings.executor
    executor_kind(settings)
    raw_url = env.get(BROKER_URL_VARIABLE) or section.get("broker_url")
    if raw_url is None:
        raise _where(settings, "broker_url").error(
            f"required for the Celery executor and workers (or set {BROKER_URL_VARIABLE}), "
            "e.g. redis://127.0.0.1:6379/0 or amqp://guest@127.0.0.1:5672//"
        )
    url = config_fields.plain(raw_url)
    scheme = url.split("://", 1)[0].lower() if isinstance(url, str) and "://" in url else ""
    if scheme not in _SCHEMES:
        shown = "the value" if isinstance(raw_url, Secret) else repr(redact_url(str(url)))
        raise _where(settings, "broker_url").error(
            f"expected a redis:// or amqp:// URL, got {shown}"
        )
    queue = section.get("queue", CelerySettings.queue)
    if not isinstance(queue, str) or not queue.strip():
        raise _where(settings, "queue").error(
            f"expected a queue name, got {config_fields.shown_safely(queue)}"
        )
    heartbeat = _seconds(settings, "heartbeat_interval", CelerySettings.heartbeat_interval)
    orphan_after = _seconds(settings, "orphan_after", CelerySettings.orphan_after)
    if orphan_after < 3 * heartbeat:
        raise _where(settings, "orphan_after").error(
            f"must be at least three heartbeat intervals ({3 * heartbeat:g}s), so one slow "
            f"heartbeat does not orphan a running attempt; got {orphan_after:g}s"
        )
    poll = _seconds(settings, "poll_interval", CelerySettings.poll_interval)
    claim = _seconds(settings, "claim_timeout", CelerySettings.claim_timeout)
    for key, value in (("poll_interval", poll), ("heartbeat_interval", heartbeat)):
        if value <= 0:
            raise _where(settings, key).error("must be longer than 0s")
    if claim < 1:
        raise _where(settings, "claim_timeout").error(f"must be at least 1s, got {claim:g}s")
    return CelerySettings(
        Secret(str(url)),
        queue.strip(),
        heartbeat,
        orphan_after,
        poll,
        claim,
        _signing_key(settings),
    )


def _signing_key(settings: Settings) -> Secret | None:
    value = settings.executor.get("signing_key")
    if value is None:
        return None
    key = config_fields.plain(value)
    if not isinstance(key, str) or len(key.strip()) < MIN_KEY_LENGTH:
        length = len(key.strip()) if isinstance(key, str) else 0
        raise _where(settings, "signing_key").error(
            f"expected a shared secret of at least {MIN_KEY_LENGTH} characters "
            f"(e.g. from ${{RUNWATCH_SIGNING_KEY}}), got {length}"
        )
    return Secret(key.strip())


def _seconds(settings: Settings, key: str, default: float) -> float:
    value = settings.executor.get(key)
    if value is None:
        return default
    return config_fields.setting_duration(value, _where(settings, key))


def _where(settings: Settings, key: str) -> Location:
    display = str(settings.config_path) if settings.config_path else "runwatch.yaml"
    return Location(display, key=f"executor.{key}")
