"""The ping API on a real loopback server, and `runwatch wrap --server` as its client."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.model import RunState, TaskState
from runner.server.http_api import MAX_BODY_BYTES, HttpServer
from runner.server.ping_api import PingApi, register_ping_routes
from runner.store.store import Store
from runner.wrap.ping_client import PingClient
from runner.wrap.report import JobSpec, RunReport, new_report_id
from tests.runner.wrap.conftest import finished_report, make_wrap, wrap_env
from tests.security.ping_server import SECRET, ping, token
from tests.security.ping_server import served as serve_pings


@pytest.fixture
def served(store: Store, db_url: str) -> Iterator[str]:
    """A loopback server with the ping routes over the test's store; its URL."""
    yield from serve_pings(db_url)


RECENT = time.time() - 3600
"""A logical time the server accepts (reports are refused outside a window around now)."""


def test_a_ping_without_the_jobs_own_token_is_refused(served: str, store: Store) -> None:
    assert ping(served, "backup", "start", bearer=None)[0] == 401
    assert ping(served, "backup", "start", bearer="wrong")[0] == 401
    assert ping(served, "backup", "start", bearer=token("other"))[0] == 401
    assert ping(served, "backup", "start", bearer=SECRET.reveal())[0] == 401
    assert store.list_runs() == []


def test_a_start_and_a_success_ping_record_one_run_with_its_duration(
    served: str, store: Store
) -> None:
    status, started = ping(served, "backup", "start", {"started_at": RECENT})
    assert (status, started["state"]) == (200, "running")

    status, ended = ping(served, "backup", "success", {"duration_seconds": 42.5})

    assert (status, ended["run_id"], ended["state"]) == (200, started["run_id"], "success")
    (run,) = store.list_runs()
    assert run.state is RunState.SUCCESS
    assert run.duration_seconds == 42.5
    (attempt,) = store.attempts(run.id)
    assert (attempt.state, attempt.exit_code) == (TaskState.SUCCESS, 0)


def test_a_fail_ping_records_the_exit_code_and_the_output_tail(served: str, store: Store) -> None:
    status, _ = ping(
        served,
        "etl",
        "fail",
        {
            "exit_code": 3,
            "output": "line 1\nTraceback: boom",
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(RECENT)),
        },
    )

    assert status == 200
    (run,) = store.list_runs()
    assert run.state is RunState.FAILED
    (attempt,) = store.attempts(run.id)
    assert (attempt.exit_code, attempt.reason, attempt.error) == (
        3,
        "exit code 3",
        "line 1\nTraceback: boom",
    )


def test_bad_json_is_refused_with_a_message(served: str) -> None:
    status, answer = ping(served, "etl", "start", b"{nope")

    assert status == 400
    assert answer["error"].startswith("body: not valid JSON")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"exit_code": "three"}, "exit_code"),
        ({"exit_code": -1}, "exit_code"),
        ({"exit_code": 256}, "exit_code"),
        ({"duration_seconds": 1e300}, "duration_seconds"),
        ({"duration_seconds": "long"}, "duration_seconds"),
        ({"started_at": "yesterday"}, "started_at"),
        ({"output": 12}, "output"),
        ([1, 2], "body"),
    ],
)
def test_a_bad_field_is_refused_naming_the_field(served: str, body: Any, field: str) -> None:
    raw = json.dumps(body).encode()

    status, answer = ping(served, "etl", "fail", raw)

    assert status == 400
    assert answer["error"].startswith(f"{field}:")


def test_a_bad_job_name_or_ping_kind_is_refused(served: str) -> None:
    assert ping(served, "a%20b", "start", bearer=token("a b"))[0] == 400
    assert ping(served, "etl", "finish")[0] == 404


def test_an_oversized_body_is_refused(served: str, store: Store) -> None:
    status, answer = ping(served, "etl", "fail", {"output": "x" * MAX_BODY_BYTES})

    assert status == 413
    assert "limit" in answer["text"]
    assert store.list_runs() == []


def test_a_report_sent_twice_is_recorded_once(served: str, store: Store) -> None:
    client = PingClient(served, token("remote"))
    report = finished_report("remote", at=RECENT, exit_codes=(1, 0))

    first = client.send(report)
    second = client.send(report)

    assert first == second
    assert len(store.list_runs()) == 1
    assert len(store.attempts(first or 0)) == 2


def test_a_report_whose_state_does_not_fit_the_ping_is_refused(served: str) -> None:
    report = RunReport(new_report_id(), JobSpec("remote"), RECENT)
    report.start_attempt(RECENT)
    body = {"report": report.to_json()}

    status, answer = ping(served, "remote", "success", body)

    assert status == 400
    assert answer["error"].startswith("report.state:")


def test_a_plain_ping_keeps_the_schedule_wrap_declared(served: str, store: Store) -> None:
    client = PingClient(served, token("sched"))
    spec = JobSpec("sched", schedule="@hourly", grace=60.0)
    client.send(finished_report("sched", at=RECENT, spec=spec))

    ping(served, "sched", "success")

    job = store.get_job("sched")
    assert job is not None
    assert job.schedule == "@hourly"
    assert len(store.list_runs(job="sched")) == 2


def test_an_unavailable_store_is_a_503_not_a_crash(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")
    server = HttpServer("127.0.0.1:0")
    api = register_ping_routes(server, f"sqlite:///{blocked}/sub/runwatch.db", SECRET)
    with server:
        status, answer = ping(server.url, "etl", "start")
    api.close()

    assert status == 503
    assert "unavailable" in answer["error"]


def test_wrap_with_a_server_records_through_the_ping_api(
    served: str, store: Store, tmp_path: Path
) -> None:
    home = tmp_path / "remote-home"
    wrap = make_wrap(tmp_path, home)
    env = wrap_env(home, PING_TOKEN=token("remote"))

    result = wrap(
        "--job",
        "remote",
        "--server",
        served,
        "--token-env",
        "PING_TOKEN",
        "--",
        "sh",
        "-c",
        "echo remote; exit 3",
        env=env,
    )

    assert result.returncode == 3, result.stderr
    assert result.stdout == b"remote\n"
    (run,) = store.list_runs()
    assert (run.job, run.state) == ("remote", RunState.FAILED)
    assert store.attempts(run.id)[0].exit_code == 3
    assert not (home / "runwatch.db").exists()


def test_wrap_spools_when_the_server_is_away_and_replays_when_it_is_back(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    server = HttpServer("127.0.0.1:0")
    server.start()
    url = server.url
    server.stop()  # nothing listens on that port now
    home = tmp_path / "remote-home"
    wrap = make_wrap(tmp_path, home)
    env = wrap_env(home, OFFLINE_TOKEN=token("offline"), ONLINE_TOKEN=token("online"))
    args = ("--server", url, "--token-env")

    away = wrap("--job", "offline", *args, "OFFLINE_TOKEN", "--", "sh", "-c", "exit 4", env=env)

    assert away.returncode == 4
    assert b"refused the connection" in away.stderr
    assert len(list((home / "spool").glob("*.json"))) == 1
    back = HttpServer(url.removeprefix("http://"))
    api = register_ping_routes(back, db_url, SECRET)
    with back:
        # Another job's wrap leaves the spooled report: it has only its own job's token.
        assert wrap("--job", "online", *args, "ONLINE_TOKEN", "--", "true", env=env).returncode == 0
        assert len(list((home / "spool").glob("*.json"))) == 1
        assert (
            wrap("--job", "offline", *args, "OFFLINE_TOKEN", "--", "true", env=env).returncode == 0
        )
    api.close()
    assert sorted(r.job for r in store.list_runs()) == ["offline", "offline", "online"]
    assert list((home / "spool").glob("*.json")) == []


def test_the_api_can_be_called_without_a_server(store: Store, db_url: str) -> None:
    from datetime import UTC, datetime

    from runner.server.ping_api import handle_ping

    status, answer = handle_ping(
        store.spine_connection(), "direct", "start", b"", now=datetime.now(UTC)
    )

    assert (status, answer["state"]) == (200, "running")
    assert PingApi(db_url).db_url == db_url
