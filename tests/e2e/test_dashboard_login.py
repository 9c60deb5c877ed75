"""Logging in to the dashboard and acting, end to end: a local OpenID Connect provider
(oidc-provider-mock on loopback), the real `runwatch dashboard` with
``dashboard.actions`` and ``dashboard.auth`` in runwatch.yaml, and headless Chromium
that clicks "Log in", authorizes at the provider, comes back logged in and pauses a
job. The pause is in the store, as an ``operator_action`` event with the user."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from runner.events import OperatorAction
from runner.model import Job, Task
from runner.store.store import Store
from tests.e2e.cli import free_port
from tests.e2e.dashboard import BROWSER_TEST_TIMEOUT, serve_dashboard
from tests.e2e.devtools import Page, chromium_page

PROVIDER_START_TIMEOUT = 60.0

CLIENT_SECRET = "client-s3cr3t-for-the-test"
COOKIE_SECRET = "cookie-s3cr3t-" + "x" * 32
USER = "alice@example.com"
RUNWATCH_YAML = """\
db_url: sqlite:///{db}
dashboard:
  actions: true
  auth:
    client_id: runwatch-dashboard
    client_secret: ${{OIDC_CLIENT_SECRET}}
    server_metadata_url: {provider}/.well-known/openid-configuration
    redirect_uri: http://localhost:{port}/oauth2callback
    cookie_secret: ${{DASHBOARD_COOKIE_SECRET}}
  allow:
    pause: [group:ops]
"""
_BUTTON = "[...document.querySelectorAll('button')].find(b => b.innerText.trim() === {label!r})"


def _button(label: str) -> str:
    return _BUTTON.format(label=label)


def _click(page: Page, label: str, *, enabled: bool = True) -> None:
    ready = f"({_button(label)}) && !({_button(label)}).disabled" if enabled else _button(label)
    page.wait_for(ready, f"a {label!r} button")
    page.evaluate(f"({_button(label)}).click()")


@contextmanager
def oidc_provider(log: Path) -> Iterator[str]:
    """oidc-provider-mock in its own process on a free loopback port; its issuer URL."""
    port = free_port()
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "oidc_provider_mock",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    issuer = f"http://localhost:{port}"
    try:
        deadline = time.monotonic() + PROVIDER_START_TIMEOUT
        while True:
            try:
                urllib.request.urlopen(
                    f"{issuer}/.well-known/openid-configuration", timeout=2
                ).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the OIDC provider did not start:\n{log.read_text()}")
                time.sleep(0.2)
        yield issuer
    finally:
        process.terminate()
        process.wait(timeout=15)


def _paused_by(db: Path) -> list[OperatorAction]:
    with Store.open(f"sqlite:///{db}", migrate=False, recover=False) as store:
        return [e for e in store.events_after(0) if isinstance(e, OperatorAction)]


@pytest.mark.timeout(BROWSER_TEST_TIMEOUT)
def test_a_user_logs_in_through_the_provider_and_pauses_a_job(tmp_path: Path) -> None:
    db = tmp_path / "runwatch.db"
    with Store.open(f"sqlite:///{db}") as store:
        job = Job(
            name="billing", tasks={"one": Task("one", command=("true",))}, schedule="0 * * * *"
        )
        store.sync_jobs([job], datetime.now(UTC))
    port = free_port()
    with oidc_provider(tmp_path / "provider.log") as issuer:
        claims = json.dumps({"email": USER, "groups": ["ops"]}).encode()
        request = urllib.request.Request(f"{issuer}/users/{USER}", data=claims, method="PUT")
        request.add_header("Content-Type", "application/json")
        urllib.request.urlopen(request, timeout=10).close()
        (tmp_path / "runwatch.yaml").write_text(
            RUNWATCH_YAML.format(db=db, provider=issuer, port=port)
        )
        secrets = {"OIDC_CLIENT_SECRET": CLIENT_SECRET, "DASHBOARD_COOKIE_SECRET": COOKIE_SECRET}
        with (
            serve_dashboard(tmp_path, env=secrets, port=port),
            chromium_page(tmp_path / "chromium") as page,
        ):
            base = f"http://localhost:{port}/"
            page.go(base + "?job=billing")
            page.wait_for(
                f"({_button('Pause the schedule')})?.disabled", "the pause button, disabled"
            )
            _click(page, "Log in")
            page.wait_for("document.querySelector('input[name=sub]')", "the provider's form")
            page.evaluate(
                f"document.querySelector('input[name=sub]').value = {USER!r};"
                "document.querySelector('input[name=sub]').form.submit()"
            )
            page.wait_for("document.body.innerText.includes('Logged in as')", "who is logged in")
            page.go(base + "?job=billing")
            _click(page, "Pause the schedule")
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not _paused_by(db):
                time.sleep(0.25)
            page.wait_for(_button("Unpause the schedule"), "the unpause button")

    [event] = _paused_by(db)
    assert (event.action, event.user, event.job, event.detail) == (
        "pause",
        USER,
        "billing",
        "paused",
    )
    with Store.open(f"sqlite:///{db}", migrate=False, recover=False) as store:
        stored = store.get_job("billing")
    assert stored is not None
    assert stored.paused
    log = (tmp_path / "dashboard.log").read_text()
    assert CLIENT_SECRET not in log
    assert COOKIE_SECRET not in log
