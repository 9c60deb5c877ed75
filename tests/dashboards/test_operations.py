"""Operations from the dashboard (AppTest on the seeded store): every action is refused
without a login and for a user the allow-list does not name, and done and recorded as an
``operator_action`` event, with the user, for one it names. The actions that run a
runwatch command (trigger, rerun, silence add) run the real one in a child process."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from alerting.matchers import parse_matcher
from alerting.silences import add_silence
from dashboards.operations import perform
from dashboards.operations.perform import RunSubject
from dashboards.settings import (
    ACTIONS_VARIABLE,
    CONFIG_VARIABLE,
    DB_URL_VARIABLE,
    LOGIN_VARIABLE,
    LOGS_DIR_VARIABLE,
    DashboardSettings,
)
from runner.dashboard_access import Action, Allowlist, Operator
from runner.events import OperatorAction
from runner.model import RunState, Trigger
from runner.store.silences import silence_rows
from runner.store.store import Store
from tests.dashboards.apptest import app_test
from tests.dashboards.seed import NOW
from tests.dashboards.test_pages import table

ALICE = {"is_logged_in": True, "email": "alice@example.com"}
BOB = {"is_logged_in": True, "email": "bob@example.com"}
CAROL = {"is_logged_in": True, "email": "carol@example.com", "groups": ["data-eng"]}
LOGGED_OUT = {"is_logged_in": False}
ALLOW = Allowlist(
    {action: ("alice@example.com",) for action in Action}
    | {Action.TRIGGER: ("alice@example.com", "group:data-eng")}
)
RUNWATCH_YAML = """\
jobs:
  long:
    tasks:
      wait: {command: ["sleep", "120"]}
  adhoc-export:
    tasks:
      export: {command: ["true"]}
  billing:
    schedule: "0 * * * *"
    tasks:
      fetch: {command: ["true"]}
      charge: {command: ["true"], after: [fetch]}
"""
RERUN_TIMEOUT = 90.0


@pytest.fixture
def operations_on(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The app with operations on, as `runwatch dashboard` starts it; the store's URL."""
    config = tmp_path / "runwatch.yaml"
    config.write_text(RUNWATCH_YAML)
    monkeypatch.setenv(DB_URL_VARIABLE, sqlite_url)
    monkeypatch.setenv(LOGS_DIR_VARIABLE, str(tmp_path / "logs"))
    monkeypatch.setenv(LOGIN_VARIABLE, "groups")
    monkeypatch.setenv(ACTIONS_VARIABLE, ALLOW.to_json())
    monkeypatch.setenv(CONFIG_VARIABLE, str(config))
    monkeypatch.setenv("RUNWATCH_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("RUNWATCH_DB_URL", raising=False)
    return sqlite_url


def _operations(url: str) -> list[OperatorAction]:
    with Store.open(url, migrate=False, recover=False) as store:
        return [e for e in store.events_after(0, limit=100_000) if isinstance(e, OperatorAction)]


def _run_id(url: str, job: str, state: RunState) -> int:
    with Store.open(url, migrate=False, recover=False) as store:
        return store.list_runs(job=job, state=state)[0].id


@dataclass(frozen=True)
class Case:
    """An action: the page it is on and how a user does it there."""

    action: Action
    page: Callable[[str], dict[str, str]]
    act: Callable[[AppTest], None]
    button: str


def _trigger(at: AppTest) -> None:
    at.text_area(key="op-trigger-params").input("day=2024-05-01")
    at.button(key="op-trigger").click()


def _silence(at: AppTest) -> None:
    at.text_input(key="op-silence-matchers").input("job=billing")
    at.text_input(key="op-silence-duration").input("1h")
    at.text_input(key="op-silence-comment").input("fixing the amounts")
    at.button(key="op-silence").click()


CASES = {
    Action.TRIGGER: Case(
        Action.TRIGGER, lambda _url: {"job": "adhoc-export"}, _trigger, "op-trigger"
    ),
    Action.PAUSE: Case(
        Action.PAUSE,
        lambda _url: {"job": "billing"},
        lambda at: at.button(key="op-pause").click(),
        "op-pause",
    ),
    Action.CANCEL: Case(
        Action.CANCEL,
        lambda url: {"run": str(_run_id(url, "streaming", RunState.RUNNING))},
        lambda at: at.button(key="op-cancel").click(),
        "op-cancel",
    ),
    Action.RERUN: Case(
        Action.RERUN,
        lambda url: {"run": str(_run_id(url, "billing", RunState.FAILED))},
        lambda at: at.button(key="op-rerun").click(),
        "op-rerun",
    ),
    Action.SILENCE: Case(Action.SILENCE, lambda _url: {"page": "alerts"}, _silence, "op-silence"),
    Action.ACKNOWLEDGE: Case(
        Action.ACKNOWLEDGE,
        lambda _url: {"page": "alerts"},
        lambda at: at.button(key="op-ack").click(),
        "op-ack",
    ),
}


def _open(url: str, case: Case, user: dict[str, Any]) -> AppTest:
    at = app_test(NOW)
    for key, value in case.page(url).items():
        at.query_params[key] = value
    at.user = user
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _do(url: str, case: Case, user: dict[str, Any]) -> AppTest:
    at = _open(url, case, user)
    case.act(at)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _texts(at: AppTest) -> str:
    return "\n".join(
        [e.value for e in at.caption]
        + [e.value for e in at.error]
        + [e.value for e in at.success]
        + [e.value for e in at.markdown]
    )


@pytest.mark.parametrize("action", list(CASES))
def test_an_action_is_refused_without_a_login(operations_on: str, action: Action) -> None:
    at = _open(operations_on, CASES[action], LOGGED_OUT)

    assert at.button(key=CASES[action].button).disabled
    assert f"log in to {action.value}" in _texts(at)
    assert _operations(operations_on) == []
    assert at.button(key="login").value is False  # the sidebar offers the login


@pytest.mark.parametrize("action", list(CASES))
def test_an_action_is_refused_to_a_user_the_allow_list_does_not_name(
    operations_on: str, action: Action
) -> None:
    at = _open(operations_on, CASES[action], BOB)

    assert at.button(key=CASES[action].button).disabled
    assert f"bob@example.com may not {action.value}" in _texts(at)
    assert f"dashboard.allow.{action.value}" in _texts(at)
    assert _operations(operations_on) == []


@pytest.mark.parametrize("user", [None, Operator("bob@example.com")], ids=["nobody", "bob"])
def test_the_actions_check_the_allow_list_again_when_they_run(
    operations_on: str, user: Operator | None
) -> None:
    """A page drawn for someone allowed does not let someone else act through it."""
    settings = DashboardSettings.from_env(os.environ)
    run = RunSubject(1, "billing", RunState.FAILED, Trigger.SCHEDULE, NOW.isoformat())
    outcomes = [
        perform.trigger(settings, user, "adhoc-export", []),
        perform.rerun(settings, user, run),
        perform.cancel(settings, user, run),
        perform.pause(settings, user, "billing", True),
        perform.add_silence(settings, user, ["job=billing"], "1h", "x"),
        perform.expire_silence_now(settings, user, 1),
        perform.acknowledge(settings, user, "f00", "BillingFailing"),
    ]

    assert not any(o.ok for o in outcomes)
    assert _operations(operations_on) == []
    with Store.open(operations_on, migrate=False, recover=False) as store:
        job = store.get_job("billing")
    assert job is not None
    assert not job.paused


def test_a_trigger_queues_the_run_with_its_parameters_and_records_who(
    operations_on: str,
) -> None:
    at = _do(operations_on, CASES[Action.TRIGGER], ALICE)

    [event] = _operations(operations_on)
    assert (event.action, event.user, event.job) == ("trigger", "alice@example.com", "adhoc-export")
    assert event.detail == "params day"  # names only: a value may be a secret
    with Store.open(operations_on, migrate=False, recover=False) as store:
        run = store.get_run(event.run_id or 0)
    assert (run.job, run.state, run.params) == (
        "adhoc-export",
        RunState.QUEUED,
        {"day": "2024-05-01"},
    )
    assert f"run {run.id} of adhoc-export queued" in _texts(at)


def test_a_group_named_in_the_allow_list_lets_its_members_act(operations_on: str) -> None:
    _do(operations_on, CASES[Action.TRIGGER], CAROL)

    [event] = _operations(operations_on)
    assert event.user == "carol@example.com"


def test_pause_flips_the_stored_flag_the_scheduler_reads(operations_on: str) -> None:
    at = _do(operations_on, CASES[Action.PAUSE], ALICE)

    with Store.open(operations_on, migrate=False, recover=False) as store:
        job = store.get_job("billing")
    assert job is not None
    assert job.paused
    [event] = _operations(operations_on)
    assert (event.action, event.user, event.detail) == ("pause", "alice@example.com", "paused")
    assert at.button(key="op-pause").label == "Unpause the schedule"
    assert [r["who"] for r in table(at, "who")] == ["alice@example.com"]


def test_cancel_records_a_request_on_the_run_and_the_run_page_shows_it(
    operations_on: str,
) -> None:
    run_id = _run_id(operations_on, "streaming", RunState.RUNNING)
    at = _do(operations_on, CASES[Action.CANCEL], ALICE)

    [event] = _operations(operations_on)
    assert (event.action, event.user, event.run_id) == ("cancel", "alice@example.com", run_id)
    assert f"cancel of run {run_id} asked" in _texts(at)
    at.run()
    [row] = table(at, "who")
    assert (row["who"], row["action"]) == ("alice@example.com", "cancel")


def test_a_cancel_from_the_run_page_stops_the_run_a_runwatch_process_runs(
    operations_on: str, tmp_path: Path
) -> None:
    env = {**os.environ, "RUNWATCH_DB_URL": operations_on}
    runner = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "runner",
            "run",
            "long",
            "--config",
            str(tmp_path / "runwatch.yaml"),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        run_id = _wait_for_run(operations_on, "long", RunState.RUNNING)
        at = app_test(NOW)
        at.query_params["run"] = str(run_id)
        at.user = ALICE
        at.run()
        at.button(key="op-cancel").click()
        at.run()
        final = _wait_for_run(operations_on, "long", RunState.CANCELLED)
        assert runner.wait(timeout=RERUN_TIMEOUT) != 0
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()

    with Store.open(operations_on, migrate=False, recover=False) as store:
        run = store.get_run(final)
    assert run.reason == "cancelled by alice@example.com"


def _wait_for_run(url: str, job: str, state: RunState) -> int:
    deadline = time.monotonic() + RERUN_TIMEOUT
    while time.monotonic() < deadline:
        with Store.open(url, migrate=False, recover=False) as store:
            found = store.list_runs(job=job, state=state)
        if found:
            return found[0].id
        time.sleep(0.2)
    pytest.fail(f"no {state.value} run of {job} within {RERUN_TIMEOUT:.0f} s")


def test_rerun_runs_the_failed_tasks_again_in_a_runwatch_process(
    operations_on: str, tmp_path: Path
) -> None:
    run_id = _run_id(operations_on, "billing", RunState.FAILED)
    _do(operations_on, CASES[Action.RERUN], ALICE)

    [event] = _operations(operations_on)
    assert (event.action, event.user, event.run_id) == ("rerun", "alice@example.com", run_id)
    deadline = time.monotonic() + RERUN_TIMEOUT
    state = RunState.FAILED
    while time.monotonic() < deadline:
        with Store.open(operations_on, migrate=False, recover=False) as store:
            state = store.get_run(run_id).state
        if state is RunState.SUCCESS:
            break
        time.sleep(0.2)
    assert state is RunState.SUCCESS
    [log] = (tmp_path / "logs" / "dashboard").glob(f"rerun-{run_id}-*.log")
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    assert stat.S_IMODE(log.parent.stat().st_mode) == 0o700


def test_a_silence_is_added_by_runwatch_silence_add_with_the_user_as_author(
    operations_on: str,
) -> None:
    at = _do(operations_on, CASES[Action.SILENCE], ALICE)

    [event] = _operations(operations_on)
    assert (event.action, event.user, event.job) == ("silence", "alice@example.com", "")
    assert "job=billing" in event.detail
    assert "fixing the amounts" in event.detail
    with Store.open(operations_on, migrate=False, recover=False) as store:
        authors = {r["author"]: r["comment"] for r in silence_rows(store)}
    assert authors["alice@example.com"] == "fixing the amounts"
    assert [r["who"] for r in table(at, "who")] == ["alice@example.com"]


def test_expiring_a_silence_ends_it(operations_on: str) -> None:
    now = datetime.now(UTC)
    with Store.open(operations_on, migrate=False, recover=False) as store:
        matchers = [parse_matcher("job=reports")]
        silence = add_silence(
            store, matchers, now, now + timedelta(hours=1), author="a", comment="c"
        )
    at = app_test(now)  # the seeded silence has ended by now: this one is the only one
    at.query_params["page"] = "alerts"
    at.user = ALICE
    at.run()
    at.button(key="op-expire").click()
    at.run()

    [event] = _operations(operations_on)
    assert (event.action, event.detail) == ("silence", "expired")
    assert event.subject == f"silence {silence.id}"
    assert f"silence {silence.id} expired" in _texts(at)
    with Store.open(operations_on, migrate=False, recover=False) as store:
        assert silence_rows(store, active_at=datetime.now(UTC)) == []


def test_acknowledging_an_alert_is_recorded_with_its_fingerprint(operations_on: str) -> None:
    at = _do(operations_on, CASES[Action.ACKNOWLEDGE], ALICE)

    [event] = _operations(operations_on)
    assert (event.action, event.user) == ("acknowledge", "alice@example.com")
    assert len(event.subject) >= 8  # the alert's fingerprint
    assert "acknowledged" in _texts(at)
    [caption] = [c.value for c in at.caption if c.value.startswith("Acknowledged: ")]
    assert "by alice@example.com" in caption


def test_the_read_only_default_offers_no_operation(
    operations_on: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ACTIONS_VARIABLE)
    monkeypatch.delenv(LOGIN_VARIABLE)
    for page in ({"job": "billing"}, {"page": "alerts"}):
        at = app_test(NOW)
        for key, value in page.items():
            at.query_params[key] = value
        at.user = ALICE
        at.run()
        assert not at.exception
        keys = {b.key for b in at.button}
        assert not {k for k in keys if k and k.startswith("op-")}
        assert "login" not in keys
        assert "Operations" not in [h.value for h in at.subheader]


def test_the_allow_list_travels_as_json() -> None:
    assert json.loads(ALLOW.to_json())["trigger"] == ["alice@example.com", "group:data-eng"]
    assert Allowlist.from_json(ALLOW.to_json()) == ALLOW


def test_bad_input_is_the_commands_own_message_and_records_nothing(operations_on: str) -> None:
    at = _open(operations_on, CASES[Action.TRIGGER], ALICE)
    at.text_area(key="op-trigger-params").input("not a parameter")
    at.button(key="op-trigger").click()
    at.run()

    assert "expected KEY=VALUE with KEY made of letters" in _texts(at)
    assert _operations(operations_on) == []
    at = _open(operations_on, CASES[Action.SILENCE], ALICE)
    at.text_input(key="op-silence-matchers").input("job=billing")
    at.text_input(key="op-silence-duration").input("forever")
    at.text_input(key="op-silence-comment").input("x")
    at.button(key="op-silence").click()
    at.run()

    assert "runwatch silence add failed" in _texts(at)
    assert _operations(operations_on) == []
