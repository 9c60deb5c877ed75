"""Attacks on the ping API, each followed by proof that nothing was killed, read, deleted,
leaked or overwritten: a real server on loopback, real processes, the real CLI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from runner.executors.celery.recovery import OrphanRecovery
from runner.redaction import Redactor
from runner.secret import Secret
from runner.server.http_api import HttpServer
from runner.server.ping_api import PingPolicy, register_ping_routes
from runner.server.ping_report import MAX_AHEAD_SECONDS, MAX_JOB_NAME_CHARS, OUTPUT_TAIL_CHARS
from runner.store.store import Store
from runner.wrap.ping_client import UNAUTHORISED, PingClient, PingClientError
from runner.wrap.report import JobSpec, RunReport, new_report_id
from tests.e2e.cli import clean_env
from tests.e2e.cli import run_cli as runwatch
from tests.security.ping_server import SECRET, ping, served, token
from tests.storesql import sql
from tests.tls import self_signed

pytestmark = pytest.mark.filterwarnings("error")


@pytest.fixture
def url(store: Store, db_url: str) -> Iterator[str]:
    """The ping API over the test's store."""
    yield from served(db_url)


def hostile_report(job: str, *, pid: int, supervisor: str, path: str) -> dict[str, Any]:
    """A running wrap report naming another process, a dead supervisor and a file."""
    now = time.time()
    report = RunReport(new_report_id(), JobSpec(job), now, supervisor=supervisor, trace_id="z" * 9)
    attempt = report.start_attempt(now)
    attempt.pid, attempt.stdout_path, attempt.stderr_path = pid, path, path
    return {"report": report.to_json()}


def dead_supervisor() -> str:
    """The identity of a local process that has exited."""
    gone = subprocess.Popen(["true"])
    gone.wait()
    return f"{socket.gethostname()}:{gone.pid}:0"


def test_a_report_naming_a_pid_cannot_get_that_process_killed_by_orphan_recovery(
    url: str, store: Store
) -> None:
    victim = subprocess.Popen(["sleep", "60"], start_new_session=True)
    try:
        body = hostile_report("evil", pid=victim.pid, supervisor=dead_supervisor(), path="/x")

        status, answer = ping(url, "evil", "start", body)
        recovery = OrphanRecovery(store, scheduler_stale_after=0.001, worker_stale_after=0.001)
        recovery.run(datetime.now(UTC))

        assert status == 200, answer
        (run,) = store.list_runs()
        (attempt,) = store.attempts(run.id)
        assert (attempt.pid, attempt.supervisor, run.supervisor) == (None, None, None)
        assert victim.poll() is None, "the victim process was killed"
    finally:
        victim.kill()
        victim.wait()


def test_a_report_naming_a_file_cannot_get_it_shown_or_deleted(
    url: str, store: Store, db_url: str, tmp_path: Path
) -> None:
    secret_file = tmp_path / "shadow"
    secret_file.write_text("root:$6$secret-hash\n")
    body = hostile_report("evil", pid=1, supervisor="elsewhere:1:1", path=str(secret_file))
    assert ping(url, "evil", "start", body)[0] == 200
    assert ping(url, "evil", "fail", {"exit_code": 1})[0] == 200
    env = {**clean_env(tmp_path / "home"), "RUNWATCH_DB_URL": db_url}

    (run,) = store.list_runs()
    (attempt,) = store.attempts(run.id)
    shown = runwatch(tmp_path, env, "logs", str(run.id))
    pruned = runwatch(tmp_path, env, "db", "prune", "--older-than", "0s")

    assert (attempt.stdout_path, attempt.stderr_path) == (None, None)
    assert "secret-hash" not in shown.stdout + shown.stderr
    assert pruned.returncode == 0, pruned.stderr
    assert store.list_runs() == []
    assert secret_file.read_text() == "root:$6$secret-hash\n"


def test_a_report_backdated_to_1970_is_refused_naming_the_field(url: str, store: Store) -> None:
    report = RunReport(new_report_id(), JobSpec("old"), 1.0)
    report.start_attempt(1.0)

    status, answer = ping(url, "old", "start", {"report": report.to_json()})

    assert status == 400
    assert answer["error"].startswith("report.logical_time:")
    assert store.list_runs() == []


@pytest.mark.parametrize(
    "raw",
    [
        b'{"started_at": 1e20}',
        b'{"started_at": NaN}',
        b'{"started_at": -Infinity}',
        b'{"started_at": "99999-01-01"}',
        b'{"started_at": -5}',
    ],
)
def test_an_impossible_time_is_a_400_naming_the_field_not_a_503(
    url: str, store: Store, raw: bytes
) -> None:
    status, answer = ping(url, "etl", "start", raw)

    assert status == 400, answer
    assert answer["error"].startswith("started_at:")
    assert store.list_runs() == []


def test_times_from_the_future_are_clamped_to_the_servers_window(url: str, store: Store) -> None:
    now = time.time()
    report = RunReport(new_report_id(), JobSpec("skewed"), now)
    attempt = report.start_attempt(now)
    attempt.finish("success", now + 10 * 365 * 86400, exit_code=0)
    report.finish("success", now + 10 * 365 * 86400)

    status, _ = ping(url, "skewed", "success", {"report": report.to_json()})

    assert status == 200
    (run,) = store.list_runs()
    assert run.finished_at is not None
    assert run.finished_at.timestamp() <= time.time() + MAX_AHEAD_SECONDS


def test_only_a_well_formed_trace_id_is_taken_and_the_output_tail_is_capped(
    url: str, store: Store
) -> None:
    now = time.time()
    runs = {}
    for job, trace in (("good", "ab" * 16), ("zeros", "0" * 32), ("upper", "AB" * 16)):
        report = RunReport(new_report_id(), JobSpec(job), now, trace_id=trace)
        report.start_attempt(now).finish("failed", now + 1, exit_code=1, error="x" * 100_000)
        report.finish("failed", now + 1)
        body = json.dumps({"report": report.to_json()}).encode()[:60_000]
        assert len(body) == 60_000  # cut mid-string: not JSON
        assert ping(url, job, "fail", body)[0] == 400
        report.attempts[0].error = "x" * 50_000
        assert ping(url, job, "fail", {"report": report.to_json()})[0] == 200
        (runs[job],) = store.list_runs(job=job)

    assert [runs[j].trace_id for j in ("good", "zeros", "upper")] == ["ab" * 16, None, None]
    (attempt,) = store.attempts(runs["good"].id)
    assert attempt.error is not None
    assert len(attempt.error) == OUTPUT_TAIL_CHARS


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "report.job.timezone"),
        ({"schedule": "61 * * * *"}, "report.job.schedule"),
        ({"grace": float("inf")}, "report.job.grace"),
        ({"tags": ["x"] * 1000}, "report.job.tags"),
    ],
)
def test_a_bad_schedule_or_timezone_in_a_ping_is_refused_and_jobs_still_lists(
    url: str, store: Store, db_url: str, tmp_path: Path, spec: dict[str, Any], field: str
) -> None:
    now = time.time()
    report = RunReport(new_report_id(), JobSpec("tz"), now)
    report.start_attempt(now)
    data = report.to_json()
    data["job"] = {**data["job"], **spec}  # type: ignore[dict-item]

    status, answer = ping(url, "tz", "start", {"report": data})
    env = {**clean_env(tmp_path / "home"), "RUNWATCH_DB_URL": db_url}
    listed = runwatch(tmp_path, env, "jobs", "--jobs", str(tmp_path), "--format", "json")

    assert status == 400
    assert answer["error"].startswith(f"{field}:")
    assert listed.returncode == 0, listed.stderr
    assert store.get_job("tz") is None


def test_one_jobs_token_cannot_ping_another_job_nor_can_the_server_secret(url: str) -> None:
    assert ping(url, "payroll", "success", bearer=token("backup"))[0] == 401
    assert ping(url, "payroll", "success", bearer=SECRET.reveal())[0] == 401
    assert ping(url, "payroll", "success", bearer=None)[0] == 401
    assert ping(url, "payroll", "success")[0] == 200


def test_a_job_from_a_job_file_takes_pings_only_when_pingable_and_keeps_its_definition(
    store: Store, db_url: str
) -> None:
    sql(store).execute(
        "INSERT INTO jobs (name, tags, schedule, timezone, source, paused, updated_at) "
        "VALUES ('nightly', '[]', '0 2 * * *', 'UTC', 'jobs.yaml', 0, 0), "
        "('remote', '[]', '0 3 * * *', 'UTC', 'jobs.yaml', 0, 0)"
    )
    defined = {"nightly": False, "remote": True}
    now = time.time()
    report = RunReport(new_report_id(), JobSpec("remote", schedule="* * * * *"), now)
    report.start_attempt(now).finish("success", now + 1, exit_code=0)
    report.finish("success", now + 1)

    for url in served(db_url, PingPolicy(lambda: defined)):
        refused = ping(url, "nightly", "success")
        accepted = ping(url, "remote", "success", {"report": report.to_json()})
        wrapped = ping(url, "wrapped", "success")

    assert refused[0] == 403
    assert "pingable: true" in refused[1]["error"]
    assert store.list_runs(job="nightly") == []
    assert accepted[0] == 200
    remote = store.get_job("remote")
    assert remote is not None
    assert remote.schedule == "0 3 * * *"
    assert wrapped[0] == 200


def test_a_job_defined_in_another_serves_files_is_refused(store: Store, db_url: str) -> None:
    sql(store).execute(
        "INSERT INTO jobs (name, tags, timezone, source, paused, updated_at) "
        "VALUES ('theirs', '[]', 'UTC', '/etc/runwatch/jobs.yaml', 0, 0)"
    )
    for url in served(db_url):
        assert ping(url, "theirs", "success")[0] == 403
    assert store.list_runs() == []


def test_jobs_created_by_pings_are_capped_and_names_are_bounded(store: Store, db_url: str) -> None:
    for url in served(db_url, PingPolicy(max_ping_jobs=2)):
        first = [ping(url, f"job-{n}", "success")[0] for n in range(2)]
        third = ping(url, "job-2", "success")
        again = ping(url, "job-0", "success")[0]
        long_name = "x" * (MAX_JOB_NAME_CHARS + 1)
        too_long = ping(url, long_name, "success")

    assert first == [200, 200]
    assert third[0] == 409
    assert "server.max_ping_jobs" in third[1]["error"]
    assert again == 200
    assert too_long[0] == 400
    assert sorted(j.name for j in store.list_jobs()) == ["job-0", "job-1"]


def test_the_client_says_unauthorised_for_a_wrong_token(url: str) -> None:
    report = RunReport(new_report_id(), JobSpec("backup"), time.time())
    report.start_attempt(report.logical_time)

    with pytest.raises(PingClientError) as raised:
        PingClient(url, token("other")).send(report)

    assert raised.value.kind == UNAUTHORISED
    assert "unauthorised (401)" in str(raised.value)
    assert "unavailable" not in str(raised.value)


def test_wrap_over_https_verifies_the_certificate_with_the_given_ca(
    store: Store, db_url: str, tmp_path: Path
) -> None:
    import ssl

    cert, key = self_signed(tmp_path / "tls")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    server = HttpServer("127.0.0.1:0", tls=context)
    api = register_ping_routes(server, db_url, SECRET)
    token_file = tmp_path / "backup.token"
    token_file.write_text(token("backup") + "\n")
    token_file.chmod(0o600)
    home = tmp_path / "remote"
    env = {**clean_env(home)}

    def wrap(*extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "runner",
                "wrap",
                "--job",
                "backup",
                "--server",
                server.url,
                "--token-file",
                str(token_file),
                *extra,
                "--",
                "true",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    with server:
        assert server.url.startswith("https://")
        untrusted = wrap()
        trusted = wrap("--ca-file", str(cert))
    api.close()

    assert untrusted.returncode == 0
    assert "certificate is not trusted" in untrusted.stderr
    assert trusted.returncode == 0
    assert trusted.stderr == ""
    # the trusted wrap recorded its run and replayed the one the untrusted wrap spooled
    assert [r.job for r in store.list_runs()] == ["backup", "backup"]
    assert list((home / "spool").glob("*.json")) == []


def runwatch_cli(tmp_path: Path, *args: str, config: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "runwatch.yaml").write_text(config)
    (tmp_path / "jobs.yaml").write_text(
        "jobs:\n  local:\n    command: 'true'\n  remote:\n    command: 'true'\n    pingable: true\n"
    )
    env = {**clean_env(tmp_path / "home"), "PING_SECRET": SECRET.reveal()}
    return runwatch(tmp_path, env, *args)


CONFIG = (
    "jobs: [jobs.yaml]\nserver:\n  token: ${PING_SECRET}\n  public_url: https://rw.example:9464\n"
)


def test_ping_url_prints_a_jobs_token_only_when_asked_and_never_the_secret(
    tmp_path: Path,
) -> None:
    shown = runwatch_cli(tmp_path, "ping-url", "remote", config=CONFIG)
    only = runwatch_cli(tmp_path, "ping-url", "remote", "--token-only", config=CONFIG)
    refused = runwatch_cli(tmp_path, "ping-url", "local", config=CONFIG)
    checked = runwatch_cli(tmp_path, "check", config=CONFIG)

    assert shown.returncode == 0, shown.stderr
    assert "https://rw.example:9464/api/v1/jobs/remote/{start,success,fail}" in shown.stdout
    assert only.stdout == token("remote") + "\n"
    assert SECRET.reveal() not in shown.stdout + shown.stderr + checked.stdout + checked.stderr
    assert token("remote") not in checked.stdout + checked.stderr
    assert refused.returncode == 2
    assert "without 'pingable: true'" in refused.stderr


@pytest.mark.parametrize(
    ("server", "expected"),
    [
        (
            "  tokn: ${PING_SECRET}\n",
            "key 'server': unknown key 'tokn' (did you mean 'token'?)",
        ),
        ("  token: short\n", "key 'server.token': expected a secret of at least 16 characters"),
        ("  token: ${PING_SECRET}\n  tls_cert: c.pem\n", "key 'server.tls_key'"),
        ("  max_ping_jobs: 0\n", "key 'server.max_ping_jobs'"),
        ("  request_timeout: .inf\n", "key 'server.request_timeout'"),
        ("  heartbeat_interval: 0s\n", "key 'server.heartbeat_interval'"),
        ("  listen: nowhere\n", "key 'server.listen'"),
        ("  public_url: rw.example\n", "key 'server.public_url'"),
    ],
)
def test_check_rejects_a_bad_server_key_naming_it(
    tmp_path: Path, server: str, expected: str
) -> None:
    result = runwatch_cli(tmp_path, "check", config=f"jobs: [jobs.yaml]\nserver:\n{server}")

    assert result.returncode == 2
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert SECRET.reveal() not in result.stderr


def test_check_rejects_tls_files_that_are_missing_or_do_not_match(tmp_path: Path) -> None:
    cert, _ = self_signed(tmp_path / "one")
    _, other_key = self_signed(tmp_path / "two")
    base = "jobs: [jobs.yaml]\nserver:\n  token: ${PING_SECRET}\n"

    missing = runwatch_cli(
        tmp_path, "check", config=f"{base}  tls_cert: {cert}\n  tls_key: nope.pem\n"
    )
    mismatch = runwatch_cli(
        tmp_path, "check", config=f"{base}  tls_cert: {cert}\n  tls_key: {other_key}\n"
    )
    good = runwatch_cli(
        tmp_path, "check", config=f"{base}  tls_cert: {cert}\n  tls_key: {cert.parent}/key.pem\n"
    )

    assert missing.returncode == 2
    assert "server.tls_key" in missing.stderr
    assert "not a readable file" in missing.stderr
    assert mismatch.returncode == 2
    assert "the key does not match the certificate" in mismatch.stderr
    assert good.returncode == 0, good.stderr
    assert os.path.exists(cert)


def test_check_rejects_a_pingable_key_that_is_not_a_boolean(tmp_path: Path) -> None:
    result = runwatch_cli(tmp_path, "check", config=CONFIG)
    (tmp_path / "jobs.yaml").write_text("jobs:\n  j:\n    command: 'true'\n    pingable: maybe\n")
    bad = runwatch(
        tmp_path, {**clean_env(tmp_path / "home"), "PING_SECRET": SECRET.reveal()}, "check"
    )

    assert result.returncode == 0, result.stderr
    assert bad.returncode == 2
    assert "key 'pingable'" in bad.stderr


def test_serve_redacts_its_own_secrets_from_what_a_client_reports(
    store: Store, db_url: str
) -> None:
    webhook = "https://hooks.slack.example/services/T000/B000/server-side-secret-path"
    for url in served(db_url, redactor=Redactor([Secret(webhook)])):
        body = {"exit_code": 1, "output": f"curl {webhook} failed", "reason": webhook}
        assert ping(url, "echo", "fail", body)[0] == 200

    (run,) = store.list_runs(job="echo")
    (attempt,) = store.attempts(run.id)
    stored = f"{attempt.error} {attempt.reason} {run.reason}"
    assert "server-side-secret-path" not in stored
    assert "[redacted]" in stored
