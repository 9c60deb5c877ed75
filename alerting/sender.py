"""The sender: delivers the outbox with per-receiver retries and backoff.

``deliver_due(now)`` claims the rows that are due, sends each receiver's rows in its own
thread (a slow or failing receiver never holds up another), then records every outcome:
sent; retried later with exponential backoff (or after Slack's ``Retry-After``); or
failed after a permanent error or the retry budget, and then handed to the receiver's
``fallback``. Database work stays on the calling thread.

Each round claims at most one row per receiver right before sending it, so a row that
is ``sending`` really is in flight; a row a dead sender left in flight is taken over
at once (``outbox.release_stale``): resent only to receivers with an idempotency key
(PagerDuty's ``dedup_key``; Alertmanager, where a re-posted alert is the same alert),
otherwise recorded as possibly delivered.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from alerting import outbox, state
from alerting.config import AlertingConfig
from alerting.notification import (
    DeliveryResult,
    Notification,
    NotifiedAlert,
    NotifiedStatus,
    Notifier,
)
from alerting.notifiers import create_notifier
from alerting.outbox import OutboxRow
from alerting.receivers import Receiver, SlackSettings
from runner.clock import Clock, utcnow
from runner.errors import NotFoundError
from runner.processes import current, is_alive
from runner.redaction import Redactor
from runner.store import notifications
from runner.store.store import Store

logger = logging.getLogger(__name__)


_IDEMPOTENT_KINDS = frozenset({"pagerduty", "opsgenie", "alertmanager"})
"""Receivers whose repeated send is the same event: PagerDuty dedups on ``dedup_key``,
Opsgenie on ``alias``, Alertmanager on the alert's labels."""


@dataclass(frozen=True)
class DeliveryReport:
    """What one ``deliver_due`` call did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    deferred: int = 0


class Sender:
    """Delivers queued notifications; safe to run in several processes at once."""

    def __init__(
        self,
        store: Store,
        config: AlertingConfig,
        *,
        notifiers: Mapping[str, Notifier] | None = None,
        clock: Clock = utcnow,
        lease_seconds: float = 120.0,
        batch_size: int = 100,
        sender_id: str | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.clock = clock
        self.lease_seconds = lease_seconds
        self.batch_size = batch_size
        self.sender_id = sender_id or f"{current()}/{uuid.uuid4().hex[:8]}"
        self._notifiers: dict[str, Notifier] = dict(notifiers or {})
        self._redactor = redactor or Redactor(config.secrets())
        """Errors are stored and logged through it (receivers may echo their secrets)."""

    def idempotent(self, receiver: str, note: Notification) -> bool:
        """True when sending ``note`` to ``receiver`` again is harmless: PagerDuty and
        Alertmanager always; Slack with a bot token once the group has a message, which
        is updated in place (``Notification.redelivery``)."""
        found = self.config.receivers.get(receiver)
        if found is None:
            return False
        if found.kind in _IDEMPOTENT_KINDS:
            return True
        settings = found.settings
        return (
            isinstance(settings, SlackSettings)
            and settings.token is not None
            and state.group_thread(self.store, note.group_key, note.episode) is not None
        )

    def notifier(self, receiver: str) -> Notifier:
        """The notifier of a configured receiver (created on first use)."""
        if receiver not in self._notifiers:
            if receiver not in self.config.receivers:
                raise NotFoundError(
                    f"no receiver {receiver!r} in {self.config.source} "
                    f"(known: {', '.join(sorted(self.config.receivers))})"
                )
            self._notifiers[receiver] = create_notifier(self.config.receivers[receiver])
        return self._notifiers[receiver]

    def deliver_due(self, now: datetime | None = None, *, max_rounds: int = 50) -> DeliveryReport:
        """Send every notification due at ``now``; record the outcomes.

        A group's next notification (or a fallback) becomes due once the one before it is
        settled, so rounds repeat while they settle something.
        """
        now = now or self.clock()
        counts = {"sent": 0, "retried": 0, "failed": 0, "deferred": 0}
        for _ in range(max_rounds):
            round_counts = self._deliver_round(now)
            for key, value in round_counts.items():
                counts[key] += value
            if not (round_counts["sent"] or round_counts["failed"]):
                break
        return DeliveryReport(**counts)

    def _deliver_round(self, now: datetime) -> dict[str, int]:
        store = self.store
        counts = {"sent": 0, "retried": 0, "failed": 0, "deferred": 0}
        resent, possibly = outbox.release_stale(
            store, now, alive=is_alive, idempotent=self.idempotent
        )
        if resent or possibly:
            logger.warning(
                "took over %d notifications a dead sender left in flight: %d to send again "
                "(idempotent receivers), %d recorded as possibly delivered",
                resent + possibly,
                resent,
                possibly,
            )
        claimed: dict[str, OutboxRow] = {}
        for row_id, receiver in notifications.claimable(store, now, self.batch_size):
            if receiver in claimed:
                continue  # one row in flight per receiver and round: see the module doc
            row = outbox.claim(store, row_id, self.sender_id, now, self.lease_seconds)
            if row is not None:
                claimed[receiver] = self._with_thread(row)
        if not claimed:
            return counts
        rows = list(claimed.values())
        with ThreadPoolExecutor(max_workers=min(8, len(rows))) as pool:
            results = list(pool.map(self._send_one, rows))
        for row, result in zip(rows, results, strict=True):
            counts[self._record(row, result, now)] += 1
            if not result.ok and result.retry_after_seconds is not None:
                until = now + timedelta(seconds=result.retry_after_seconds)
                counts["deferred"] += notifications.defer_receiver(store, row.receiver, until)
        return counts

    def _with_thread(self, row: OutboxRow) -> OutboxRow:
        note = row.notification
        thread = None
        if row.group_key == note.group_key:
            thread = state.group_thread(self.store, note.group_key, note.episode)
        return replace(row, notification=note.with_thread(thread, row.id))

    def _send_one(self, row: OutboxRow) -> DeliveryResult:
        try:
            notifier = self.notifier(row.receiver)
        except NotFoundError as exc:
            return DeliveryResult.failure(str(exc), permanent=True)
        except Exception as exc:
            return DeliveryResult.failure(f"cannot create notifier: {type(exc).__name__}: {exc}")
        try:
            return notifier.send(row.notification)
        except Exception as exc:
            return DeliveryResult.failure(f"{type(exc).__name__}: {exc}")

    def _record(self, row: OutboxRow, result: DeliveryResult, now: datetime) -> str:
        store = self.store
        if result.ok:
            if notifications.mark_sent(store, row.id, self.sender_id, now) and result.thread:
                note = row.notification
                if row.group_key == note.group_key and note.thread is None:
                    state.set_group_thread(store, note.group_key, note.episode, result.thread)
            return "sent"
        error = self._redactor.redact(result.error or "unknown error")
        receiver = self.config.receivers.get(row.receiver)
        budget = receiver.max_attempts if receiver else 1
        if result.permanent or row.attempts >= budget:
            notifications.mark_failed(store, row.id, self.sender_id, error)
            logger.error(
                "notification %d to %s failed after %d attempts: %s",
                row.id,
                row.receiver,
                row.attempts,
                error,
            )
            self._fall_back(row, receiver, now)
            return "failed"
        delay = _backoff(receiver, row.attempts)
        if result.retry_after_seconds is not None:
            delay = max(delay, result.retry_after_seconds)
        notifications.mark_retry(
            store, row.id, self.sender_id, now + timedelta(seconds=delay), error
        )
        logger.warning(
            "notification %d to %s: attempt %d failed, retrying in %.0fs: %s",
            row.id,
            row.receiver,
            row.attempts,
            delay,
            error,
        )
        return "retried"

    def _fall_back(self, row: OutboxRow, receiver: Receiver | None, now: datetime) -> None:
        if receiver is None or receiver.fallback is None:
            return
        note = replace(row.notification, thread=None, id=0)
        outbox.enqueue(
            self.store,
            note,
            now,
            receiver=receiver.fallback,
            group_key=f"{row.group_key}>{receiver.fallback}",
            fallback_of=row.id,
        )
        logger.warning("notification %d handed to fallback receiver %s", row.id, receiver.fallback)

    def send_test(self, receiver: str, now: datetime | None = None) -> DeliveryResult:
        """Send a clearly marked test notification to ``receiver`` right away."""
        now = now or self.clock()
        alert = NotifiedAlert(
            fingerprint=f"runwatch-test-{receiver}",
            status=NotifiedStatus.FIRING,
            labels={"alertname": "RunwatchTest", "severity": "info", "job": "runwatch-test"},
            annotations={"summary": f"Test notification from runwatch to receiver {receiver}"},
            starts_at=now,
        )
        note = Notification(receiver, f"test:{receiver}", {}, (alert,), now, test=True)
        result = self._send_one_notification(receiver, note)
        if not result.ok:
            result = replace(result, error=self._redactor.redact(result.error or ""))
        return result

    def _send_one_notification(self, receiver: str, note: Notification) -> DeliveryResult:
        notifier = self.notifier(receiver)
        try:
            return notifier.send(note)
        except Exception as exc:
            return DeliveryResult.failure(f"{type(exc).__name__}: {exc}")

    def close(self) -> None:
        """Shut the notifiers down."""
        for notifier in self._notifiers.values():
            try:
                notifier.shutdown()
            except Exception:
                logger.warning("notifier shutdown failed", exc_info=True)
        self._notifiers.clear()


def _backoff(receiver: Receiver | None, attempts: int) -> float:
    """Exponential backoff: backoff, 2x, 4x … capped at max_backoff."""
    if receiver is None:
        return 60.0
    delay = receiver.backoff_seconds * (2 ** max(0, attempts - 1))
    return float(min(delay, receiver.max_backoff_seconds))
