"""``dashboard.actions``, ``.auth`` and ``.allow``: read-only by default, actions refused
without a login, every key checked with its name (and a did-you-mean), users and groups
matched per action."""

from __future__ import annotations

from typing import Any

import pytest

from runner.dashboard_access import (
    Action,
    Allowlist,
    Operator,
    operator_from_claims,
    read_dashboard_access,
)
from runner.errors import DefinitionError
from runner.secret import Secret

COOKIE = "c" * 32
AUTH: dict[str, Any] = {
    "client_id": "runwatch",
    "client_secret": Secret("s3cr3t-client"),
    "server_metadata_url": "https://idp.example/.well-known/openid-configuration",
    "redirect_uri": "https://runwatch.example/oauth2callback",
    "cookie_secret": Secret(COOKIE),
}


def _read(**section: Any) -> Any:
    return read_dashboard_access(section, "runwatch.yaml")


def test_read_only_is_the_default() -> None:
    access = _read(url="https://runwatch.example")

    assert not access.actions
    assert access.auth is None


def test_actions_without_a_login_are_refused_naming_the_key() -> None:
    with pytest.raises(DefinitionError, match=r"runwatch.yaml: key 'dashboard.actions': .*auth"):
        _read(actions=True, allow={"trigger": ["alice@example.com"]})


def test_actions_with_nobody_allowed_are_refused() -> None:
    with pytest.raises(DefinitionError, match=r"key 'dashboard.allow': .*nobody"):
        _read(actions=True, auth=AUTH)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            {"actoins": True},
            r"key 'dashboard.actoins'.*unknown key 'actoins' \(did you mean 'actions'\?\)",
        ),
        ({"actions": "yes"}, r"key 'dashboard.actions': expected true or false"),
        (
            {"allow": {"trigerr": ["a@x"]}},
            r"key 'dashboard.allow'.*unknown key 'trigerr' \(did you mean 'trigger'\?\)",
        ),
        ({"allow": {"cancel": [3]}}, r"key 'dashboard.allow.cancel': expected a list"),
        ({"allow": {"cancel": ["group:"]}}, r"key 'dashboard.allow.cancel': 'group:'"),
        ({"auth": {**AUTH, "client_idd": "x"}}, r"did you mean 'client_id'"),
        (
            {"auth": {k: v for k, v in AUTH.items() if k != "cookie_secret"}},
            r"cookie_secret.*missing",
        ),
        ({"auth": {**AUTH, "redirect_uri": "https://runwatch.example/"}}, r"/oauth2callback"),
        ({"auth": {**AUTH, "server_metadata_url": "idp.example"}}, r"server_metadata_url.*http"),
        ({"auth": {**AUTH, "cookie_secret": Secret("short")}}, r"cookie_secret.*32 characters"),
    ],
)
def test_bad_settings_name_the_key(section: dict[str, Any], message: str) -> None:
    with pytest.raises(DefinitionError, match=message):
        _read(**section)


def test_an_error_never_shows_a_secret() -> None:
    with pytest.raises(DefinitionError) as failure:
        _read(auth={**AUTH, "cookie_secret": Secret("too-short-secret")})

    assert "too-short-secret" not in str(failure.value)


def test_the_login_settings_become_streamlits_auth_section() -> None:
    access = _read(actions=True, auth=AUTH, allow={"trigger": "*"})

    assert access.auth is not None
    assert access.auth.streamlit_section() == {
        "client_id": "runwatch",
        "client_secret": "s3cr3t-client",
        "server_metadata_url": AUTH["server_metadata_url"],
        "redirect_uri": AUTH["redirect_uri"],
        "cookie_secret": COOKIE,
    }
    assert "s3cr3t" not in repr(access)


def test_users_groups_and_anyone_are_matched_per_action() -> None:
    allow = Allowlist(
        {
            Action.TRIGGER: ("alice@example.com", "group:data-eng"),
            Action.ACKNOWLEDGE: ("*",),
        }
    )
    alice, bob = Operator("alice@example.com"), Operator("bob@example.com")
    engineer = Operator("carol@example.com", frozenset({"data-eng"}))

    assert allow.allows(Action.TRIGGER, alice)
    assert allow.allows(Action.TRIGGER, engineer)
    assert not allow.allows(Action.TRIGGER, bob)
    assert not allow.allows(Action.CANCEL, alice)
    assert allow.allows(Action.ACKNOWLEDGE, bob)
    assert not allow.allows(Action.ACKNOWLEDGE, None)


def test_the_operator_comes_from_the_id_tokens_claims() -> None:
    claims = {"is_logged_in": True, "email": "a@x", "sub": "123", "roles": ["ops"]}

    assert operator_from_claims(claims, "roles") == Operator("a@x", frozenset({"ops"}))
    assert operator_from_claims({**claims, "email": None}, "roles") == Operator(
        "123", frozenset({"ops"})
    )
    assert operator_from_claims({**claims, "email_verified": False}, "roles") == Operator(
        "123", frozenset({"ops"})
    )
    assert operator_from_claims({**claims, "email_verified": True}, "roles") == Operator(
        "a@x", frozenset({"ops"})
    )
    assert operator_from_claims({**claims, "is_logged_in": False}, "roles") is None
    assert operator_from_claims({"email": "a@x"}, "roles") is None  # no login happened
