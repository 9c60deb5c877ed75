"""Who may do what from the dashboard: ``dashboard.actions``, ``.auth`` and ``.allow``.

Read-only is the default. ``dashboard.actions: true`` turns the operation buttons on and is
refused unless ``dashboard.auth`` configures Streamlit's OpenID Connect login; each
action is then allowed to the users (their e-mail, or ``sub`` without one) and the
``group:NAME`` entries that ``dashboard.allow.ACTION`` lists (``"*"``: anyone logged in).
``runwatch check`` and ``runwatch dashboard`` read the section here; the app gets the
parsed allow-list and checks every action against it, in the browser and again when it
runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from runner import config_fields
from runner.config_fields import Location
from runner.run_page import url_problem
from runner.secret import Secret


class Action(StrEnum):
    """The operations the dashboard offers; each is a key of ``dashboard.allow``."""

    TRIGGER = "trigger"
    """Queue a manual run of a job, with parameters."""
    RERUN = "rerun"
    """Run a finished run's unsuccessful tasks again."""
    CANCEL = "cancel"
    """Cancel a running run."""
    PAUSE = "pause"
    """Pause or unpause a job's schedule."""
    SILENCE = "silence"
    """Add or expire a silence."""
    ACKNOWLEDGE = "acknowledge"
    """Acknowledge a firing alert."""


DASHBOARD_KEYS = ("url", "actions", "auth", "allow")
AUTH_KEYS = (
    "client_id",
    "client_secret",
    "server_metadata_url",
    "redirect_uri",
    "cookie_secret",
    "groups_claim",
)
_REQUIRED_AUTH = AUTH_KEYS[:5]
_SECRET_AUTH = ("client_secret", "cookie_secret")
GROUP_PREFIX = "group:"
ANYONE = "*"
DEFAULT_GROUPS_CLAIM = "groups"


@dataclass(frozen=True)
class Operator:
    """A logged-in user: the name actions are recorded with, and their groups."""

    name: str
    groups: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Allowlist:
    """Per action, the users and ``group:`` entries allowed to do it."""

    entries: Mapping[Action, tuple[str, ...]] = field(default_factory=dict)

    def allows(self, action: Action, operator: Operator | None) -> bool:
        """True when ``operator`` (None: not logged in) may do ``action``."""
        if operator is None:
            return False
        for entry in self.entries.get(action, ()):
            if entry in (ANYONE, operator.name):
                return True
            if entry.startswith(GROUP_PREFIX) and entry[len(GROUP_PREFIX) :] in operator.groups:
                return True
        return False

    def to_json(self) -> str:
        """The allow-list as the app is handed it (no secret is in it)."""
        return json.dumps({a.value: list(users) for a, users in self.entries.items()})

    @classmethod
    def from_json(cls, text: str) -> Allowlist:
        """Read ``to_json``'s text; unknown actions are dropped."""
        raw = json.loads(text)
        known = {a.value for a in Action}
        return cls({Action(k): tuple(v) for k, v in raw.items() if k in known})


@dataclass(frozen=True)
class AuthSettings:
    """Streamlit's ``[auth]`` settings: what ``runwatch dashboard`` writes to its secrets."""

    client_id: str
    client_secret: str = field(repr=False)
    server_metadata_url: str
    redirect_uri: str
    cookie_secret: str = field(repr=False)
    groups_claim: str = DEFAULT_GROUPS_CLAIM

    def streamlit_section(self) -> dict[str, str]:
        """The ``[auth]`` table of Streamlit's secrets.toml."""
        return {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "server_metadata_url": self.server_metadata_url,
            "redirect_uri": self.redirect_uri,
            "cookie_secret": self.cookie_secret,
        }


@dataclass(frozen=True)
class DashboardAccess:
    """The dashboard's operations settings: off, or on behind a login with an allow-list."""

    actions: bool = False
    auth: AuthSettings | None = None
    allow: Allowlist = field(default_factory=Allowlist)


def read_dashboard_access(section: Mapping[str, object], source: str) -> DashboardAccess:
    """Check ``dashboard:`` (keys with did-you-mean, types, URLs); DefinitionError names the
    file and the key. ``actions: true`` without ``auth`` is refused here."""
    top = Location(source, key="dashboard")
    for key in map(str, section):  # named in full (dashboard.KEY), as `check` does elsewhere
        if key not in DASHBOARD_KEYS:
            raise top.at(key).error(config_fields.suggest(key, DASHBOARD_KEYS))
    raw_actions = section.get("actions")
    actions = (
        False if raw_actions is None else config_fields.boolean(raw_actions, top.at("actions"))
    )
    raw_auth = section.get("auth")
    auth = None if raw_auth is None else _auth(raw_auth, top.at("auth"))
    raw_allow = section.get("allow")
    allow = Allowlist() if raw_allow is None else _allow(raw_allow, top.at("allow"))
    if actions and auth is None:
        raise top.at("actions").error(
            "actions: true needs a login: configure dashboard.auth (client_id, client_secret, "
            "server_metadata_url, redirect_uri, cookie_secret) for Streamlit's OpenID "
            "Connect login, or remove dashboard.actions to keep the dashboard read-only"
        )
    if actions and not any(allow.entries.values()):
        raise top.at("allow").error(
            "actions: true but nobody may do any: list users or group:NAME entries under "
            f"dashboard.allow.ACTION ({', '.join(a.value for a in Action)})"
        )
    return DashboardAccess(actions=actions, auth=auth, allow=allow)


def _auth(raw: object, where: Location) -> AuthSettings:
    if not isinstance(raw, Mapping):
        raise where.error(f"expected a mapping of {', '.join(_REQUIRED_AUTH)}")
    config_fields.check_keys(raw, AUTH_KEYS, where)
    values: dict[str, str] = {}
    for key in _REQUIRED_AUTH:
        if raw.get(key) is None:
            raise where.at(key).error(
                "missing: Streamlit's login needs " + ", ".join(_REQUIRED_AUTH)
            )
        value = raw[key]
        if key not in _SECRET_AUTH and isinstance(value, Secret):
            value = value.reveal()  # a URL or client id from ${VAR} is no secret to Streamlit
        text = config_fields.text(
            config_fields.plain(value), where.at(key), show=lambda _v: "an empty value"
        )
        values[key] = text.strip()
    for key in ("server_metadata_url", "redirect_uri"):
        problem = url_problem(values[key], template=True)
        if problem:
            raise where.at(key).error(problem)
    if not values["redirect_uri"].rstrip("/").endswith("/oauth2callback"):
        raise where.at("redirect_uri").error(
            "expected the dashboard's address ending in /oauth2callback, e.g. "
            "https://runwatch.example/oauth2callback (register the same at the provider)"
        )
    if len(values["cookie_secret"]) < 32:
        raise where.at("cookie_secret").error(
            "expected at least 32 characters (e.g. from `openssl rand -hex 32`)"
        )
    claim = raw.get("groups_claim", DEFAULT_GROUPS_CLAIM)
    return AuthSettings(**values, groups_claim=config_fields.text(claim, where.at("groups_claim")))


def _allow(raw: object, where: Location) -> Allowlist:
    if not isinstance(raw, Mapping):
        raise where.error(
            "expected a mapping of action to users, e.g. {trigger: [alice@example.com, "
            "group:data-eng]}"
        )
    known = [a.value for a in Action]
    config_fields.check_keys(raw, known, where)
    entries: dict[Action, tuple[str, ...]] = {}
    for key, value in raw.items():
        at = where.at(str(key))
        users = config_fields.string_list([value] if isinstance(value, str) else value, at)
        for user in users:
            if user.startswith(GROUP_PREFIX) and not user[len(GROUP_PREFIX) :].strip():
                raise at.error(f"{user!r}: expected group:NAME with a group name")
        entries[Action(key)] = tuple(u.strip() for u in users)
    return Allowlist(entries)


def operator_from_claims(claims: Mapping[str, object], groups_claim: str) -> Operator | None:
    """The logged-in user of Streamlit's ``st.user`` claims; None when not logged in. An
    e-mail the provider says is unverified (``email_verified: false``) is not taken: the
    user is then their ``sub``, so nobody is named by an address they merely typed."""
    if claims.get("is_logged_in") is not True:
        return None
    email = claims.get("email") if claims.get("email_verified") is not False else None
    name = email or claims.get("sub")
    if not isinstance(name, str) or not name:
        return None
    raw = claims.get(groups_claim)
    groups: Iterable[object] = raw if isinstance(raw, list | tuple) else ()
    return Operator(name, frozenset(str(g) for g in groups))
