"""The alerting commands, parsed by ``add_alerting_parsers`` and run on a real store:
`alerts`, `alerts replay`, `silence add|list|expire`, `notify-test`."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from importlib import import_module
from pathlib import Path

import pytest

from alerting import AlertEngine, parse_alerting
from runner.cli.alerting_parser import add_alerting_parsers
from runner.cli.context import Context
from runner.errors import RunwatchError
from runner.store.store import Store
from tests.alerting.conftest import EventLog, FixedClock, RecordingServer
from tests.storesql import sql

Run = Callable[..., tuple[int, str, str]]


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config")
    common.add_argument("--db")
    fmt = argparse.ArgumentParser(add_help=False)
    fmt.add_argument("--format", choices=["table", "json"], default="table")
    top = argparse.ArgumentParser(prog="runwatch")
    add_alerting_parsers(top.add_subparsers(dest="command", required=True), common, fmt)
    return top


@pytest.fixture
def cli(
    tmp_path: Path, db_url: str, http_server: RecordingServer, capsys: pytest.CaptureFixture[str]
) -> Run:
    (tmp_path / "runwatch.yaml").write_text(
        "alerting:\n"
        "  receivers:\n"
        "    hook: {webhook: {url: '${HOOK_URL}'}}\n"
        "  route: {receiver: hook, group_wait: 0s, group_interval: 0s}\n"
        "  rules:\n"
        "    - {alert: JobFailed, when: run_failed, severity: error}\n"
    )
    env = {
        "HOME": str(tmp_path),
        "HOOK_URL": f"{http_server.url}/hook",
        "GENIE_KEY": "k-123",
        "APPRISE_URL": f"json://{http_server.url.removeprefix('http://')}/apprise",
        "USER": "ana",
        "RUNWATCH_DB_URL": db_url,
    }

    def run(*argv: str) -> tuple[int, str, str]:
        args = parser().parse_args(argv)
        module, name = args.handler.split(":")
        handler = getattr(import_module(f"runner.cli.commands.{module}"), name)
        ctx = Context(args, env, tmp_path)
        try:
            code = handler(ctx)
        except RunwatchError as exc:
            print(f"runwatch: error: {exc}")
            code = 2
        finally:
            ctx.close()
        out, err = capsys.readouterr()
        return code, out, err

    return run


def test_silences_are_added_listed_and_expired(cli: Run) -> None:
    code, out, _ = cli(
        "silence",
        "add",
        "--matcher",
        "job=nightly-etl",
        "--duration",
        "2h",
        "--comment",
        "warehouse migration",
        "--format",
        "json",
    )
    assert code == 0
    added = json.loads(out)
    assert (added["matchers"], added["author"], added["comment"]) == (
        ['job="nightly-etl"'],
        "ana",
        "warehouse migration",
    )
    code, out, _ = cli("silence", "list", "--format", "json")
    assert [s["id"] for s in json.loads(out)] == [added["id"]]
    assert cli("silence", "expire", str(added["id"]))[0] == 0
    assert json.loads(cli("silence", "list", "--format", "json")[1]) == []
    assert len(json.loads(cli("silence", "list", "--all", "--format", "json")[1])) == 1


def test_silence_add_rejects_a_bad_matcher_or_duration_with_usage_errors(cli: Run) -> None:
    code, out, _ = cli("silence", "add", "--matcher", "job", "--duration", "2h", "--comment", "x")
    assert code == 2
    assert "--matcher: bad matcher 'job'" in out
    code, out, _ = cli(
        "silence", "add", "--matcher", "job=a", "--duration", "soon", "--comment", "x"
    )
    assert (code, out.split(":")[2].strip()) == (2, "--duration 'soon'")
    assert cli("silence", "expire", "999")[1] == "runwatch: error: no silence with id 999\n"


def test_alerts_lists_firing_alerts_as_json(
    cli: Run, store: Store, events: EventLog, clock: FixedClock, tmp_path: Path
) -> None:
    events.run(ok=False)
    raw = {
        "receivers": {"m": {"memory": {}}},
        "rules": [{"alert": "JobFailed", "when": "run_failed", "severity": "error"}],
    }
    AlertEngine(store, parse_alerting(raw), clock=clock).evaluate()
    code, out, _ = cli("alerts", "--state", "firing", "--format", "json")
    (alert,) = json.loads(out)
    assert (code, alert["alertname"], alert["state"], alert["job"]) == (
        0,
        "JobFailed",
        "firing",
        "nightly-etl",
    )
    assert json.loads(cli("alerts", "--state", "resolved", "--format", "json")[1]) == []
    code, out, _ = cli("alerts")
    assert "JobFailed" in out
    assert "nightly-etl" in out


def test_replay_prints_what_a_new_rule_set_would_send_and_sends_nothing(
    cli: Run,
    store: Store,
    events: EventLog,
    clock: FixedClock,
    tmp_path: Path,
    http_server: RecordingServer,
) -> None:
    from runner.clock import utcnow

    clock.now = utcnow().replace(microsecond=0) - __import__("datetime").timedelta(days=2)
    for _ in range(3):
        events.run(ok=False)
        clock.advance(3600)
    events.run(ok=True)
    (tmp_path / "rules.yaml").write_text(
        "- {alert: JobFailing, when: consecutive_failures, threshold: 2, severity: critical}\n"
    )
    code, out, _ = cli(
        "alerts",
        "replay",
        "--rules",
        str(tmp_path / "rules.yaml"),
        "--since",
        "7d",
        "--format",
        "json",
    )
    assert code == 0
    result = json.loads(out)
    assert result["events"] == 16
    assert [a["alertname"] for a in result["alerts"]] == ["JobFailing"]
    assert [n["title"] for n in result["notifications"]] == [
        "[FIRING:1] JobFailing (job=nightly-etl)",
        "[RESOLVED] JobFailing (job=nightly-etl)",
    ]
    assert http_server.requests == []
    assert sql(store).scalar("SELECT COUNT(*) FROM notifications") == 0
    assert sql(store).scalar("SELECT COUNT(*) FROM alerts") == 0
    code, out, _ = cli("alerts", "replay", "--rules", str(tmp_path / "rules.yaml"))
    assert "nothing was sent" in out
    assert "2 notifications would have been sent" in out


def test_replay_of_the_rules_in_force_prints_exactly_what_was_queued_every_time(
    cli: Run, store: Store, events: EventLog, clock: FixedClock, tmp_path: Path
) -> None:
    from datetime import timedelta

    from alerting.outbox import list_rows
    from runner.clock import utcnow

    rules = "- {alert: JobFailed, when: run_failed, severity: error}\n"
    raw = {
        "receivers": {"hook": {"memory": {}}},
        "route": {"receiver": "hook", "group_wait": "20s", "group_interval": "1m"},
        "rules": [{"alert": "JobFailed", "when": "run_failed", "severity": "error"}],
    }
    (tmp_path / "runwatch.yaml").write_text(
        "alerting:\n  receivers: {hook: {memory: {}}}\n"
        "  route: {receiver: hook, group_wait: 20s, group_interval: 1m}\n"
    )
    (tmp_path / "rules.yaml").write_text(rules)
    clock.now = utcnow() - timedelta(days=1)
    engine = AlertEngine(store, parse_alerting(raw, env={}), clock=clock)
    for ok, pause in [(False, 7), (False, 45), (True, 3), (False, 100), (True, 61)]:
        events.run(ok=ok)
        engine.evaluate(clock.advance(pause))
    engine.evaluate(clock.advance(3600))
    sent = [
        [r.created_at.isoformat(), r.receiver, r.notification.title]
        for r in reversed(list_rows(store))
    ]
    # the recovery at 55 s is undone before the group's next tick (80 s): one firing, and
    # one resolved on the tick after the last recovery
    assert [t.split(" ")[0] for _, _, t in sent] == ["[FIRING:1]", "[RESOLVED]"]
    printed = []
    for _ in range(2):
        code, out, _ = cli(
            "alerts", "replay", "--rules", str(tmp_path / "rules.yaml"), "--format", "json"
        )
        assert code == 0
        printed.append(
            [[n["at"], n["receiver"], n["title"]] for n in json.loads(out)["notifications"]]
        )
    assert printed == [sent, sent]


def test_replay_reports_an_invalid_rules_file_naming_it(cli: Run, tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("- {alert: Slow, when: duration_exceeded}\n")
    code, out, _ = cli("alerts", "replay", "--rules", str(tmp_path / "bad.yaml"))
    assert code == 2
    assert out == (
        f"runwatch: error: {tmp_path / 'bad.yaml'}: alerting.rules[0].threshold: "
        "required by duration_exceeded (a duration)\n"
    )


def test_notify_test_sends_a_clearly_marked_test_notification(
    cli: Run, http_server: RecordingServer
) -> None:
    code, out, _ = cli("notify-test", "hook")
    assert (code, out) == (0, "test notification sent to hook\n")
    (request,) = http_server.requests
    body = request.json
    assert body["test"] is True
    assert body["title"] == "[TEST] [FIRING:1] RunwatchTest (all)"
    assert cli("notify-test", "nobody")[1] == (
        "runwatch: error: receiver 'nobody' is not configured (known: hook)\n"
    )


def test_notify_test_exits_1_when_the_receiver_fails_without_showing_its_url(
    cli: Run, http_server: RecordingServer
) -> None:
    http_server.reply(503, b"down")
    code, _, err = cli("notify-test", "hook")
    assert code == 1
    assert (
        err
        == "runwatch: test notification to hook failed: webhook receiver 'hook': HTTP 503: down\n"
    )
    assert http_server.url not in err


RECEIVER_KINDS = {
    "teams": "{msteams: {webhook_url: '${HOOK_URL}/teams'}}",
    "genie": "{opsgenie: {api_key: '${GENIE_KEY}', api_url: '${HOOK_URL}/genie/'}}",
    "long-tail": "{apprise: {urls: ['${APPRISE_URL}']}}",
}


@pytest.mark.parametrize("name", sorted(RECEIVER_KINDS))
def test_notify_test_reaches_each_http_receiver_kind(
    name: str, tmp_path: Path, cli: Run, http_server: RecordingServer
) -> None:
    config = tmp_path / "runwatch.yaml"
    receivers = "".join(f"    {n}: {spec}\n" for n, spec in RECEIVER_KINDS.items())
    config.write_text(config.read_text().replace("  receivers:\n", "  receivers:\n" + receivers))

    code, out, _ = cli("notify-test", name)

    assert (code, out) == (0, f"test notification sent to {name}\n")
    first, *rest = http_server.requests  # Opsgenie's test alert is created, then closed
    assert "RunwatchTest" in first.body.decode()
    assert len(rest) == (name == "genie")
