"""The secrets sweep: configure every kind of secret, make runwatch handle them in every way
it can fail, then grep everything it wrote, printed, served and sent — for each secret and
for each recognisable part of one.

Secrets: a Slack webhook URL (from a ``${file:}``), a PagerDuty routing key (from an
``env_file:``), the ping token, PGPASSWORD, exporter headers, a webhook receiver's URL
with a token in its query, a token in the trace link template, and on PostgreSQL a
password in the database URL. Jobs fail printing their environment, or (given everything
with ``env_inherit: all``) echoing the secrets; every receiver fails echoing its URL or
key; ``serve`` runs alongside with ``/metrics``; spans go to the console exporter.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests import pg
from tests.alerting.conftest import (  # noqa: F401 - fixtures used by this module
    Recorded,
    RecordingServer,
    certificate,
    http_server,
    https_server,
)
from tests.e2e.cli import clean_env, free_port

SLACK_PATH = "/services/TSWEEP0001/BSWEEP0002/sweepSlackSecret0003"
PD_KEY = "pdRoutingKeySweep0004abcdefghijk"
PING_TOKEN = "pingTokenSweep0005"
DB_PASSWORD = "dbPasswordSweep0006"
PGPASSWORD = "pgPasswordSweep0007"
OTLP_HEADER = "otlpHeaderSweep0008"
HOOK_PATH = "/hooks/webhookPathSecret0009"
HOOK_TOKEN = "webhookQueryToken0010"
TEMPO_TOKEN = "tempoTokenSweep0011"
MARKERS = ("Sweep00", "SWEEP00", "Secret0009", "Token0010")
"""Every secret above, and every part of one worth hiding, holds one of these."""

JOBS = """
jobs:
  leaky:
    command: ["sh", "-c", "env >&2; exit 3"]
  echoing:
    command:
      - sh
      - -c
      - >-
        echo "pg=$PGPASSWORD ping=$RUNWATCH_PING_TOKEN otlp=$OTEL_EXPORTER_OTLP_HEADERS" >&2;
        exit 4
    env_inherit: all
"""


@dataclass
class Sweep:
    """A configured runwatch and everything collected from it, by where it came from."""

    root: Path
    env: dict[str, str]
    db_url: str | None
    collected: dict[str, str] = field(default_factory=dict)

    def runwatch(self, *args: str, name: str, env: dict[str, str] | None = None) -> int:
        """Run the CLI; keep its stdout and stderr."""
        done = subprocess.run(
            [sys.executable, "-m", "runner", *args],
            cwd=self.root,
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
        self.collected[f"{name} stdout"] = done.stdout
        self.collected[f"{name} stderr"] = done.stderr
        return done.returncode


def _private(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o600)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def sweep(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    http_server: RecordingServer,  # noqa: F811
    https_server: RecordingServer,  # noqa: F811
    certificate: Any,  # noqa: F811
) -> Iterator[Sweep]:
    """runwatch configured with every secret, receivers failing and echoing them."""
    http_server.default = lambda r: (404, {}, f"no_service: {r.path}".encode())
    https_server.default = lambda r: (
        400,
        {"Content-Type": "application/json"},
        json.dumps({"status": "invalid", "message": f"bad key {r.json['routing_key']}"}).encode(),
    )
    _private(tmp_path / "slack-url", f"{http_server.url}{SLACK_PATH}\n")
    _private(tmp_path / "secrets.env", f"# for cron\nexport PD_KEY='{PD_KEY}'\n")
    (tmp_path / "jobs.yaml").write_text(JOBS)
    (tmp_path / "runwatch.yaml").write_text(
        f"""
env_file: secrets.env
jobs: [jobs.yaml]
server:
  token: "${{RUNWATCH_PING_TOKEN}}"
telemetry:
  trace_url: "https://tempo.test/trace/{{trace_id}}?auth=${{TEMPO_TOKEN}}"
alerting:
  receivers:
    team: {{slack: {{webhook_url: "${{file:slack-url}}"}}, max_attempts: 1}}
    oncall:
      pagerduty: {{routing_key: "${{PD_KEY}}", events_url: "{https_server.url}",
                  ca_bundle: "{certificate.cert}"}}
      max_attempts: 1
    hook:
      webhook: {{url: "{http_server.url}{HOOK_PATH}?token={HOOK_TOKEN}"}}
      max_attempts: 1
  route:
    receiver: team
    group_wait: 0s
    group_interval: 0s
    routes:
      - {{matchers: ["severity = critical"], receiver: team, continue: true}}
      - {{matchers: ["severity = critical"], receiver: oncall, continue: true}}
      - {{matchers: ["severity = critical"], receiver: hook, continue: true}}
  rules:
    - {{alert: JobFailed, when: run_failed, severity: critical}}
"""
    )
    home = tmp_path / "home"
    env = {
        **clean_env(home),
        "HOME": str(tmp_path),
        "RUNWATCH_PING_TOKEN": PING_TOKEN,
        "PGPASSWORD": PGPASSWORD,
        "OTEL_EXPORTER_OTLP_HEADERS": f"x-api-key={OTLP_HEADER}",
        "OTEL_TRACES_EXPORTER": "console",
        "TEMPO_TOKEN": TEMPO_TOKEN,
    }
    if request.param == "sqlite":
        yield Sweep(tmp_path, env, None)
        return
    with pg.temporary_schema() as url:
        db_url = url.replace("://postgres@", f"://postgres:{DB_PASSWORD}@", 1)
        assert DB_PASSWORD in db_url
        yield Sweep(tmp_path, {**env, "RUNWATCH_DB_URL": db_url}, db_url)


class Serve:
    """``runwatch serve`` with its log (stdout and stderr) in a file."""

    def __init__(self, sweep: Sweep) -> None:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.log = sweep.root / "serve.log"
        with self.log.open("w") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "runner", "-v", "serve", "--listen", self.address],
                cwd=sweep.root,
                env=sweep.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.wait_until(lambda: self.get("/healthz") is not None, "serve to answer /healthz")

    def get(self, path: str) -> str | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as r:
                return str(r.read().decode())
        except OSError:
            return None

    def wait_until(self, condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited:\n{self.log.read_text()}")
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}:\n{self.log.read_text()}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)


def _store_text(sweep: Sweep) -> str:
    """Every byte of the SQLite store, or every row of every table of the PG schema."""
    if sweep.db_url is None:
        files = sorted((sweep.root / "home").glob("runwatch.db*"))
        assert files
        return "\n".join(f.read_bytes().decode("latin-1") for f in files)
    import psycopg

    schema = sweep.db_url.split("search_path%3D", 1)[1].split("&", 1)[0]
    rows: list[str] = []
    with pg.connect() as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
            (schema,),
        ).fetchall()
        assert tables
        for (table,) in tables:
            query = psycopg.sql.SQL("SELECT t::text FROM {}.{} t").format(
                psycopg.sql.Identifier(schema), psycopg.sql.Identifier(table)
            )
            rows.extend(str(row[0]) for row in conn.execute(query))
    return "\n".join(rows)


def _dashboard_text(sweep: Sweep, monkeypatch: pytest.MonkeyPatch, runs: list[int]) -> str:
    from streamlit.testing.v1 import AppTest

    from dashboards.settings import DB_URL_VARIABLE, TRACE_URL_VARIABLE

    url = sweep.db_url or f"sqlite:///{sweep.root / 'home' / 'runwatch.db'}"
    monkeypatch.setenv(DB_URL_VARIABLE, url)
    monkeypatch.setenv(TRACE_URL_VARIABLE, "https://tempo.test/trace/{trace_id}")
    pages = [{}, {"page": "runs"}, {"page": "alerts"}, {"job": "leaky"}]
    pages += [{"run": str(run)} for run in runs]
    texts = []
    for params in pages:
        at = AppTest.from_file(str(Path(__file__).parents[2] / "dashboards" / "app.py"))
        for key, value in params.items():
            at.query_params[key] = value
        at.run(timeout=60)
        assert not at.exception, [e.value for e in at.exception]
        texts.append(_elements(at))
    return "\n".join(texts)


def _elements(at: Any) -> str:
    parts: list[str] = []
    for kind in ("markdown", "caption", "code", "error", "info", "warning", "success", "text"):
        parts.extend(str(e.value) for e in getattr(at, kind))
    parts.extend(f"{m.label} {m.value}" for m in at.metric)
    parts.extend(d.value.to_csv() for d in at.dataframe)
    parts.extend(str(j.value) for j in at.json)
    return "\n".join(parts)


def _payloads(*servers: RecordingServer) -> str:
    """The bodies sent to receivers, less PagerDuty's ``routing_key``: it is how PagerDuty
    authenticates the event, sent to PagerDuty only."""
    requests: list[Recorded] = [r for s in servers for r in s.requests]
    assert requests, "no receiver was called"
    bodies = []
    for request in requests:
        body = request.json
        if isinstance(body, dict) and body.get("routing_key") == PD_KEY:
            body = {k: v for k, v in body.items() if k != "routing_key"}
        bodies.append(json.dumps(body))
    return "\n".join(bodies)


def _leaks(collected: dict[str, str]) -> list[str]:
    found = []
    for where, text in collected.items():
        for marker in MARKERS:
            at = text.find(marker)
            if at >= 0:
                found.append(f"{where}: ...{text[max(at - 60, 0) : at + 40]!r}...")
    return found


def test_no_secret_or_part_of_one_appears_anywhere_runwatch_writes_prints_serves_or_sends(
    sweep: Sweep,
    http_server: RecordingServer,  # noqa: F811
    https_server: RecordingServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert sweep.runwatch("check", name="check") == 0
    assert sweep.runwatch("-v", "run", "leaky", name="run leaky") == 1
    assert sweep.runwatch("-v", "notify-test", "team", name="notify-test team") == 1
    assert sweep.runwatch("notify-test", "oncall", name="notify-test oncall") == 1
    serve = Serve(sweep)
    try:
        serve.wait_until(lambda: "runwatch_" in (serve.get("/metrics") or ""), "/metrics")
        calls_before = len(http_server.requests)
        assert sweep.runwatch("-v", "run", "echoing", name="run echoing") == 1
        serve.wait_until(lambda: len(http_server.requests) >= calls_before + 2, "serve's alerts")
        sweep.collected["/metrics"] = serve.get("/metrics") or ""
    finally:
        serve.stop()
    sweep.collected["serve log"] = serve.log.read_text()
    code = sweep.runwatch(
        "wrap", "--job", "wrapped", "--", "sh", "-c", "env >&2; exit 5", name="wrap"
    )
    assert code == 5
    wrapped_env = sweep.collected.pop("wrap stderr")  # the command's own output, verbatim
    assert "RUNWATCH_PING_TOKEN" not in wrapped_env
    assert "TEMPO_TOKEN" not in wrapped_env
    assert PGPASSWORD in wrapped_env  # cron's environment is the command's: kept
    for run in (1, 2, 3):
        sweep.runwatch("show", str(run), name=f"show {run}")
        sweep.runwatch("show", str(run), "--format", "json", name=f"show {run} json")
        sweep.runwatch("logs", str(run), name=f"logs {run}")  # verbatim logs, redacted
    for command in (["runs"], ["jobs"], ["alerts"], ["runs", "--format", "json"]):
        sweep.runwatch(*command, name=" ".join(command))
    sweep.collected["store"] = _store_text(sweep)
    sweep.collected["receiver payloads"] = _payloads(http_server, https_server)
    # Run 1 only: the pages of runs 2 and 3 show their verbatim logs too.
    sweep.collected["dashboard"] = _dashboard_text(sweep, monkeypatch, [1])
    logs = sweep.root / "home" / "logs"
    echoed = sorted((logs / "echoing").rglob("*.err"))
    verbatim = [*echoed, *(logs / "wrapped").rglob("*.err")]  # the tasks' own output
    for path in (sweep.root / "home").rglob("*"):
        if path.is_file() and path not in verbatim and not path.name.startswith("runwatch.db"):
            sweep.collected[str(path)] = path.read_bytes().decode("latin-1")

    # The test is real: the echoing job printed its secrets (into its own verbatim log,
    # which stays 0600 and is not redacted), the receivers echoed theirs, spans went out.
    assert PGPASSWORD in "".join(p.read_text() for p in echoed)
    assert any(SLACK_PATH in r.path for r in http_server.requests)
    assert '"trace_id"' in sweep.collected["run leaky stderr"]  # the console exporter's spans
    assert "[redacted]" in sweep.collected["store"]
    assert "pg=[redacted] ping=[redacted]" in sweep.collected["logs 2 stdout"]
    assert _leaks(sweep.collected) == []
