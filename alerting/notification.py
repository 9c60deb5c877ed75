"""What is sent: notifications (one per alert group and change) and the notifier contract.

Notifiers follow OpenTelemetry's exporter contract: ``send`` returns a ``DeliveryResult``
and never raises; ``shutdown`` releases what the notifier holds.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from runner.store.records import from_epoch, to_epoch
from runner.store.spine_sql import to_json


class NotifiedStatus(StrEnum):
    """An alert's status in a notification."""

    FIRING = "firing"
    RESOLVED = "resolved"
    FLAPPING = "flapping"


@dataclass(frozen=True)
class NotifiedAlert:
    """An alert as one notification shows it; ``changed`` is False for repeated ones."""

    fingerprint: str
    status: NotifiedStatus
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    changed: bool = True

    @property
    def alertname(self) -> str:
        """The alert's name."""
        return self.labels.get("alertname", "")

    @property
    def severity(self) -> str:
        """critical, error, warning or info."""
        return self.labels.get("severity", "warning")

    @property
    def summary(self) -> str:
        """The summary annotation, or the alert name and job."""
        return self.annotations.get("summary") or f"{self.alertname}: {self.labels.get('job')}"

    def run_annotations(self) -> dict[str, str]:
        """The rule's annotations plus every per-run fact (``details``: run id, attempt,
        exit code, error tail, trace link …) as a string annotation, for receivers that
        speak Alertmanager's labels-and-annotations format. Facts are never labels, so
        they never change an alert's identity or its group."""
        found = {k: _text(v) for k, v in sorted(self.details.items()) if v not in (None, "")}
        return {**found, **self.annotations}


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str) if isinstance(value, list | dict) else str(value)


@dataclass(frozen=True)
class Notification:
    """One message to one receiver about one alert group."""

    receiver: str
    group_key: str
    group_labels: Mapping[str, str]
    alerts: tuple[NotifiedAlert, ...]
    created_at: datetime
    id: int = 0
    episode: int = 0
    repeat: bool = False
    test: bool = False
    thread: Mapping[str, str] | None = None
    redelivery: bool = False
    """Sent again after its sender died mid-send: only an idempotent form may be used
    (Slack: update the group's message in place, no thread reply)."""

    @property
    def status(self) -> NotifiedStatus:
        """firing when any alert fires (or flaps), else resolved."""
        if any(a.status is not NotifiedStatus.RESOLVED for a in self.alerts):
            return NotifiedStatus.FIRING
        return NotifiedStatus.RESOLVED

    @property
    def firing(self) -> list[NotifiedAlert]:
        """The alerts that fire or flap."""
        return [a for a in self.alerts if a.status is not NotifiedStatus.RESOLVED]

    @property
    def resolved(self) -> list[NotifiedAlert]:
        """The alerts that resolved."""
        return [a for a in self.alerts if a.status is NotifiedStatus.RESOLVED]

    @property
    def title(self) -> str:
        """A one-line headline: status, counts and the group."""
        group = ", ".join(f"{k}={v}" for k, v in self.group_labels.items()) or "all"
        names = sorted({a.alertname for a in self.alerts})
        prefix = "[TEST] " if self.test else ""
        if any(a.status is NotifiedStatus.FLAPPING for a in self.alerts):
            state = "FLAPPING"
        elif self.firing:
            state = f"FIRING:{len(self.firing)}"
        else:
            state = "RESOLVED"
        return f"{prefix}[{state}] {', '.join(names)} ({group})"

    def with_thread(self, thread: Mapping[str, str] | None, notification_id: int) -> Notification:
        """This notification with its outbox id and its group's first message reference."""
        return replace(self, thread=thread, id=notification_id)

    def to_json(self) -> str:
        """The payload stored in the outbox (no secrets in it: only alert data)."""
        return to_json(
            {
                "receiver": self.receiver,
                "group_key": self.group_key,
                "group_labels": dict(self.group_labels),
                "created_at": to_epoch(self.created_at),
                "episode": self.episode,
                "repeat": self.repeat,
                "test": self.test,
                "redelivery": self.redelivery,
                "alerts": [
                    {
                        "fingerprint": a.fingerprint,
                        "status": a.status.value,
                        "labels": dict(a.labels),
                        "annotations": dict(a.annotations),
                        "starts_at": to_epoch(a.starts_at),
                        "ends_at": None if a.ends_at is None else to_epoch(a.ends_at),
                        "details": dict(a.details),
                        "changed": a.changed,
                    }
                    for a in self.alerts
                ],
            }
        )

    @classmethod
    def from_json(cls, text: str, *, notification_id: int = 0) -> Notification:
        """A notification from its stored payload."""
        data = json.loads(text)
        return cls(
            receiver=data["receiver"],
            group_key=data["group_key"],
            group_labels=data["group_labels"],
            created_at=from_epoch(data["created_at"]),
            episode=data.get("episode", 0),
            repeat=data.get("repeat", False),
            test=data.get("test", False),
            redelivery=data.get("redelivery", False),
            id=notification_id,
            alerts=tuple(
                NotifiedAlert(
                    fingerprint=a["fingerprint"],
                    status=NotifiedStatus(a["status"]),
                    labels=a["labels"],
                    annotations=a["annotations"],
                    starts_at=from_epoch(a["starts_at"]),
                    ends_at=from_epoch(a["ends_at"]),
                    details=a.get("details", {}),
                    changed=a.get("changed", True),
                )
                for a in data["alerts"]
            ),
        )


@dataclass(frozen=True)
class DeliveryResult:
    """How a send went. ``error`` is safe to store (no secrets); ``thread`` is a reference
    to the message sent (Slack channel and ts) for later updates of the same group."""

    ok: bool
    error: str | None = None
    permanent: bool = False
    retry_after_seconds: float | None = None
    thread: Mapping[str, str] | None = None

    @classmethod
    def success(cls, thread: Mapping[str, str] | None = None) -> DeliveryResult:
        """A delivered notification."""
        return cls(True, thread=thread)

    @classmethod
    def failure(
        cls, error: str, *, permanent: bool = False, retry_after_seconds: float | None = None
    ) -> DeliveryResult:
        """A failed delivery; ``permanent`` ones are not retried."""
        return cls(False, error, permanent, retry_after_seconds)


class Notifier(Protocol):
    """Sends notifications to one receiver; never raises from ``send``."""

    def send(self, notification: Notification) -> DeliveryResult:
        """Deliver one notification and say how it went."""
        ...

    def shutdown(self) -> None:
        """Release connections and clients."""
        ...
