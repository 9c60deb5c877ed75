"""Alerting commands: `alerts`, `alerts replay`, `silence add|list|expire`, `notify-test`."""

from __future__ import annotations

import getpass
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.cli.context import Context
from runner.cli.output import emit_json, iso, short_time, table
from runner.durations import parse_duration
from runner.errors import DefinitionError, UsageError

if TYPE_CHECKING:
    from alerting.alerts import Alert
    from alerting.config import AlertingConfig
    from alerting.notification import Notification
    from alerting.silences import Silence


def _config(ctx: Context) -> AlertingConfig:
    from alerting.config import load_alerting

    return load_alerting(ctx.settings)


def _duration(option: str, value: str) -> float:
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise UsageError(f"{option} {value!r}: {exc}") from None
    if seconds <= 0:
        raise UsageError(f"{option} {value!r}: must be more than 0s")
    return seconds


def _alert_record(alert: Alert) -> dict[str, Any]:
    from runner.store.records import from_epoch

    return {
        "fingerprint": alert.fingerprint,
        "state": alert.state.value,
        "flapping": alert.flapping,
        "alertname": alert.alertname,
        "severity": alert.severity,
        "job": alert.job,
        "labels": alert.labels,
        "annotations": alert.annotations,
        "starts_at": iso(from_epoch(alert.starts_at)),
        "ends_at": iso(from_epoch(alert.ends_at)),
    }


def _alert_table(records: list[dict[str, Any]]) -> None:
    table(
        ["state", "severity", "alert", "job", "task", "since", "summary"],
        [
            [
                r["state"] + (" (flapping)" if r["flapping"] else ""),
                r["severity"],
                r["alertname"],
                r["job"],
                r["labels"].get("task"),
                (r["starts_at"] or "")[:19].replace("T", " "),
                r["annotations"].get("summary"),
            ]
            for r in records
        ],
    )


def alerts_list(ctx: Context) -> int:
    """List alerts, newest change first (`--state firing|resolved`)."""
    from alerting.state import load_alerts
    from runner.store.alerts import AlertState

    state = AlertState(ctx.args.state) if ctx.args.state else None
    records = [_alert_record(a) for a in load_alerts(ctx.open_store(), state)]
    if ctx.args.format == "json":
        emit_json(records)
    else:
        _alert_table(records)
    return 0


def _replay_config(ctx: Context, path: Path) -> AlertingConfig:
    """The current alerting config with the rules file's keys (or rule list) on top."""
    from alerting.config import parse_alerting
    from runner.definitions.yamlsource import read_yaml, to_plain

    if not path.is_file():
        raise UsageError(f"--rules {str(path)!r}: no such file")
    data: Any = to_plain(read_yaml(path))
    raw = dict(ctx.settings.alerting)
    if isinstance(data, list):
        raw["rules"] = data
    elif isinstance(data, dict):
        raw.update(data.get("alerting", data))
    else:
        raise DefinitionError(f"{path}: expected a list of rules or an alerting mapping")
    return parse_alerting(raw, source=str(path), env=ctx.env)


def _notification_record(note: Notification) -> dict[str, Any]:
    return {
        "at": iso(note.created_at),
        "receiver": note.receiver,
        "title": note.title,
        "repeat": note.repeat,
        "alerts": [
            {
                "status": a.status.value,
                "alertname": a.alertname,
                "job": a.labels.get("job"),
                "summary": a.summary,
                "fingerprint": a.fingerprint,
            }
            for a in note.alerts
        ],
    }


def alerts_replay(ctx: Context) -> int:
    """Evaluate a rule set against stored history and print what it would have sent."""
    from alerting.replay import replay
    from runner.clock import utcnow

    config = _replay_config(ctx, Path(ctx.args.rules))
    until = utcnow()
    since = until - timedelta(seconds=_duration("--since", ctx.args.since))
    result = replay(ctx.open_store(), config, since, until)
    alerts = [_alert_record(a) for a in result.alerts]
    notes = [_notification_record(n) for n in result.notifications]
    if ctx.args.format == "json":
        emit_json(
            {
                "since": iso(since),
                "until": iso(until),
                "events": result.events,
                "alerts": alerts,
                "notifications": notes,
                "sent": False,
            }
        )
        return 0
    print(
        f"replayed {result.events} events from {short_time(since)} to {short_time(until)} "
        "(nothing was sent)"
    )
    print(f"\n{len(alerts)} alerts would have fired:")
    _alert_table(alerts)
    print(f"\n{len(notes)} notifications would have been sent:")
    table(
        ["at", "receiver", "notification"],
        [[n["at"][:19].replace("T", " "), n["receiver"], n["title"]] for n in notes],
    )
    return 0


def _silence_record(silence: Silence) -> dict[str, Any]:
    return {
        "id": silence.id,
        "matchers": [str(m) for m in silence.matchers],
        "starts_at": iso(silence.starts_at),
        "ends_at": iso(silence.ends_at),
        "author": silence.author,
        "comment": silence.comment,
    }


def silence_add(ctx: Context) -> int:
    """Store a silence for `--duration` from now."""
    from alerting.matchers import MatcherError, parse_matchers
    from alerting.silences import add_silence
    from runner.clock import utcnow

    matchers = []
    for text in ctx.args.matcher:
        try:
            matchers.extend(parse_matchers(text))
        except MatcherError as exc:
            raise UsageError(f"--matcher: {exc}") from None
    if not matchers:
        raise UsageError("--matcher: give at least one matcher, e.g. 'job=\"nightly-etl\"'")
    seconds = _duration("--duration", ctx.args.duration)
    if not ctx.args.comment.strip():
        raise UsageError("--comment: say why the alerts are silenced")
    author = ctx.args.author or ctx.env.get("USER") or getpass.getuser()
    now = utcnow()
    silence = add_silence(
        ctx.open_store(),
        matchers,
        now,
        now + timedelta(seconds=seconds),
        author=author,
        comment=ctx.args.comment,
    )
    if ctx.args.format == "json":
        emit_json(_silence_record(silence))
    else:
        print(
            f"silence {silence.id} added until {short_time(silence.ends_at)} UTC: "
            + ", ".join(str(m) for m in matchers)
        )
    return 0


def silence_list(ctx: Context) -> int:
    """List active silences (`--all`: expired ones too)."""
    from alerting.silences import list_silences
    from runner.clock import utcnow

    active_at = None if ctx.args.all else utcnow()
    records = [_silence_record(s) for s in list_silences(ctx.open_store(), active_at=active_at)]
    if ctx.args.format == "json":
        emit_json(records)
        return 0
    table(
        ["id", "matchers", "ends", "author", "comment"],
        [
            [
                r["id"],
                ", ".join(r["matchers"]),
                r["ends_at"][:19].replace("T", " "),
                r["author"],
                r["comment"],
            ]
            for r in records
        ],
    )
    return 0


def silence_expire(ctx: Context) -> int:
    """End a silence now."""
    from runner.clock import utcnow
    from runner.store.silences import expire_silence

    expire_silence(ctx.open_store(), ctx.args.silence_id, utcnow())
    print(f"silence {ctx.args.silence_id} expired")
    return 0


def notify_test(ctx: Context) -> int:
    """Send a clearly marked test notification to one receiver; exit 1 if it failed."""
    import sys

    from alerting.sender import Sender

    config = _config(ctx)
    if ctx.args.receiver not in config.receivers:
        known = ", ".join(sorted(config.receivers))
        raise UsageError(f"receiver {ctx.args.receiver!r} is not configured (known: {known})")
    sender = Sender(ctx.open_store(), config, redactor=ctx.redactor)
    try:
        result = sender.send_test(ctx.args.receiver)
    finally:
        sender.close()
    if result.ok:
        print(f"test notification sent to {ctx.args.receiver}")
        return 0
    print(
        f"runwatch: test notification to {ctx.args.receiver} failed: {result.error}",
        file=sys.stderr,
    )
    return 1
