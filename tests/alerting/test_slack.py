"""The Slack receiver with the real slack-sdk clients against a loopback Slack."""

from __future__ import annotations

import json
from typing import Any

from alerting import AlertEngine, Sender
from alerting.outbox import list_rows
from runner.events import AttemptFailed
from runner.store.notifications import NotificationStatus
from runner.store.store import Store
from tests.alerting.conftest import EventLog, FixedClock, Recorded, RecordingServer, config

RULES = [
    {
        "alert": "JobFailed",
        "when": "run_failed",
        "severity": "error",
        "annotations": {"summary": "{job} failed at {task} (attempt {attempt})"},
    },
    {"alert": "TaskFailed", "when": "task_failed", "severity": "warning"},
]


def webhook_config(server: RecordingServer) -> dict[str, Any]:
    return {
        "receivers": {
            "data-team": {"slack": {"webhook_url": "${SLACK_WEBHOOK_URL}"}, "backoff": "10s"}
        },
        "route": {"receiver": "data-team", "group_wait": "0s", "group_interval": "0s"},
        "rules": RULES[:1],
        "trace_url": "https://grafana.example/explore?trace={trace_id}",
    }


def env(server: RecordingServer) -> dict[str, str]:
    return {
        "SLACK_WEBHOOK_URL": f"{server.url}/services/T000/B000/XXXX",
        "SLACK_BOT_TOKEN": "xoxb-secret-token",
    }


def run_cycle(
    store: Store, raw: dict[str, Any], server: RecordingServer, clock: FixedClock
) -> tuple[AlertEngine, Sender]:
    cfg = config(raw, env(server))
    return AlertEngine(store, cfg, clock=clock), Sender(store, cfg, clock=clock)


def test_a_failure_posts_one_block_kit_message_and_recovery_one_resolved_notice(
    store: Store, events: EventLog, clock: FixedClock, http_server: RecordingServer
) -> None:
    engine, sender = run_cycle(store, webhook_config(http_server), http_server, clock)
    run_id = events.run(ok=False)
    engine.evaluate()
    sender.deliver_due()
    events.run(ok=False)
    engine.evaluate(clock.advance(60))
    sender.deliver_due()
    (firing,) = http_server.requests
    assert firing.path == "/services/T000/B000/XXXX"
    fp = firing.json["blocks"][-1]["elements"][0]["text"].split("`")[1]
    assert firing.json == {
        "text": "[FIRING:1] JobFailed (job=nightly-etl)",
        "blocks": [
            {
                "type": "header",
                "text": {"type": "plain_text", "text": "[FIRING:1] JobFailed (job=nightly-etl)"},
            },
            {"type": "divider"},
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": ":red_circle: *nightly-etl failed at load (attempt 1)*",
                },
                "fields": [
                    {"type": "mrkdwn", "text": "*Severity*\nerror"},
                    {"type": "mrkdwn", "text": "*Job*\nnightly-etl"},
                    {"type": "mrkdwn", "text": "*Task*\nload"},
                    {"type": "mrkdwn", "text": f"*Run*\n{run_id}"},
                    {"type": "mrkdwn", "text": "*Outcome*\nexit code 3"},
                    {"type": "mrkdwn", "text": "*Attempt*\n1"},
                    {"type": "mrkdwn", "text": "*Owner*\ndata-eng"},
                    {"type": "mrkdwn", "text": "*Status*\nfiring"},
                ],
            },
            {"type": "section", "text": {"type": "mrkdwn", "text": "```Traceback: boom```"}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"fingerprint `{fp}`"}]},
        ],
    }
    events.run(ok=True)
    engine.evaluate(clock.advance(60))
    sender.deliver_due()
    resolved = http_server.requests[-1]
    assert len(http_server.requests) == 2
    assert resolved.json["text"] == "[RESOLVED] JobFailed (job=nightly-etl)"
    assert resolved.json["blocks"][2]["text"]["text"] == (
        f":large_green_circle: *job nightly-etl recovered (run {run_id + 2}, down 1m00s)*"
    )


def test_slack_down_for_three_attempts_gets_the_message_exactly_once(
    store: Store, events: EventLog, clock: FixedClock, http_server: RecordingServer
) -> None:
    engine, sender = run_cycle(store, webhook_config(http_server), http_server, clock)
    http_server.reply(500, b"internal_error", times=3)
    events.run(ok=False)
    engine.evaluate()
    for _ in range(4):
        sender.deliver_due()
        clock.advance(3600)
    assert [r.status for r in list_rows(store)] == [NotificationStatus.SENT]
    assert len(http_server.requests) == 4
    assert len({r.body for r in http_server.requests}) == 1


def test_slack_429_retry_after_is_honoured(
    store: Store, events: EventLog, clock: FixedClock, http_server: RecordingServer
) -> None:
    engine, sender = run_cycle(store, webhook_config(http_server), http_server, clock)
    http_server.reply(429, b"rate_limited", headers={"Retry-After": "45"})
    events.run(ok=False)
    engine.evaluate()
    assert sender.deliver_due().retried == 1
    (row,) = list_rows(store)
    assert (row.next_attempt_at - clock.now).total_seconds() == 45
    assert "429" in (row.last_error or "")
    clock.advance(44)
    sender.deliver_due()
    assert len(http_server.requests) == 1
    clock.advance(1)
    assert sender.deliver_due().sent == 1


def test_a_slack_404_is_permanent_and_the_webhook_url_never_appears_in_the_error(
    store: Store, events: EventLog, clock: FixedClock, http_server: RecordingServer
) -> None:
    engine, sender = run_cycle(store, webhook_config(http_server), http_server, clock)
    http_server.reply(404, b"no_service")
    events.run(ok=False)
    engine.evaluate()
    assert sender.deliver_due().failed == 1
    (row,) = list_rows(store)
    assert row.last_error == "slack receiver 'data-team': HTTP 404: no_service"
    assert "XXXX" not in (row.last_error or "")


def slack_api(request: Recorded) -> tuple[int, dict[str, str], bytes]:
    body = {"ok": True, "channel": "C0DATA", "ts": f"1700000000.{len(request.body):06d}"}
    return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()


def bot_config(server: RecordingServer) -> dict[str, Any]:
    return {
        "receivers": {
            "data-team": {
                "slack": {
                    "token": "${SLACK_BOT_TOKEN}",
                    "channel": "#data-alerts",
                    "api_url": f"{server.url}/api/",
                }
            }
        },
        "route": {"receiver": "data-team", "group_wait": "0s", "group_interval": "0s"},
        "rules": RULES,
    }


def test_with_a_bot_token_the_group_message_is_updated_in_place_with_thread_replies(
    store: Store, events: EventLog, clock: FixedClock, http_server: RecordingServer
) -> None:
    http_server.default = slack_api
    engine, sender = run_cycle(store, bot_config(http_server), http_server, clock)
    events.add(AttemptFailed, run_id=7, task="extract", attempt=1, exit_code=1)
    engine.evaluate()
    sender.deliver_due()
    (first,) = http_server.requests
    assert first.path == "/api/chat.postMessage"
    assert first.headers["Authorization"] == "Bearer xoxb-secret-token"
    assert first.json["channel"] == "#data-alerts"
    assert "thread_ts" not in first.json
    ts = slack_api(first)[2].decode()
    ts = json.loads(ts)["ts"]

    events.run(ok=False)  # JobFailed and TaskFailed(load) join the same job group
    engine.evaluate(clock.advance(60))
    sender.deliver_due()
    update, reply = http_server.requests[1:]
    assert update.path == "/api/chat.update"
    assert (update.json["channel"], update.json["ts"]) == ("C0DATA", ts)
    assert update.json["text"] == "[FIRING:3] JobFailed, TaskFailed (job=nightly-etl)"
    assert reply.path == "/api/chat.postMessage"
    assert (reply.json["channel"], reply.json["thread_ts"]) == ("C0DATA", ts)
    assert reply.json["text"].startswith("Update: [FIRING:3]")

    events.run(ok=True)
    engine.evaluate(clock.advance(60))
    sender.deliver_due()
    update, reply = http_server.requests[3:]
    assert update.path == "/api/chat.update"
    assert update.json["text"] == "[RESOLVED] JobFailed, TaskFailed (job=nightly-etl)"
    assert reply.json["thread_ts"] == ts
    assert reply.json["text"].count("resolved:") == 3
    assert len(http_server.requests) == 5


def test_a_slack_api_rate_limit_is_retried_after_its_retry_after(
    store: Store, events: EventLog, clock: FixedClock, http_server: RecordingServer
) -> None:
    http_server.default = slack_api
    http_server.reply(
        429,
        {"ok": False, "error": "ratelimited"},
        headers={"Retry-After": "20", "Content-Type": "application/json"},
    )
    engine, sender = run_cycle(store, bot_config(http_server), http_server, clock)
    events.run(ok=False)
    engine.evaluate()
    assert sender.deliver_due().retried == 1
    (row,) = list_rows(store)
    assert (row.next_attempt_at - clock.now).total_seconds() == 20
    assert "xoxb" not in (row.last_error or "")
    clock.advance(20)
    assert sender.deliver_due().sent == 1
