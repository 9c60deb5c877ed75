"""Receivers: named destinations with their kind's settings and delivery policy."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import formataddr, parseaddr
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from alerting.config_reader import KeyPath
from runner.secret import Secret

KINDS = (
    "slack",
    "pagerduty",
    "msteams",
    "opsgenie",
    "email",
    "apprise",
    "alertmanager",
    "webhook",
    "log",
    "memory",
)
_COMMON = ("fallback", "max_attempts", "backoff", "max_backoff", "timeout", "send_resolved")


@dataclass(frozen=True)
class SlackSettings:
    """An incoming webhook, or a bot token posting to a channel (messages updated in place)."""

    webhook_url: Secret | None = None
    token: Secret | None = None
    channel: str | None = None
    api_url: str = "https://slack.com/api/"


@dataclass(frozen=True)
class PagerDutySettings:
    """An Events API v2 integration."""

    routing_key: Secret
    events_url: str = "https://events.pagerduty.com"
    ca_bundle: str | None = None
    source: str = "runwatch"


@dataclass(frozen=True)
class MSTeamsSettings:
    """A Microsoft Teams incoming webhook or Workflows URL (it holds its credential)."""

    webhook_url: Secret


@dataclass(frozen=True)
class OpsgenieSettings:
    """Opsgenie's Alerts API v2 (``api_url``: US, or https://api.eu.opsgenie.com/)."""

    api_key: Secret
    api_url: str = "https://api.opsgenie.com/"
    responders: tuple[Mapping[str, str], ...] = ()
    tags: tuple[str, ...] = ()
    priority: str | None = None
    """P1 to P5 for every alert; None maps each alert's severity."""


@dataclass(frozen=True)
class EmailSettings:
    """SMTP through ``smarthost``: implicit TLS on port 465, else STARTTLS when
    ``require_tls`` (the default)."""

    to: tuple[str, ...]
    sender: str
    """The ``from`` address."""
    host: str
    port: int
    auth_username: str | None = None
    auth_password: Secret | None = None
    require_tls: bool = True
    ca_file: str | None = None
    """``tls_config.ca_file``: the CA bundle that verifies the server."""


@dataclass(frozen=True)
class AppriseSettings:
    """Apprise URLs (``discord://…``, ``ntfy://…``, ``mailto://…``); each holds credentials."""

    urls: tuple[Secret, ...]


@dataclass(frozen=True)
class AlertmanagerSettings:
    """A Prometheus Alertmanager that receives our alerts through its v2 API."""

    url: str
    ca_bundle: str | None = None
    resend_delay_seconds: float = 60.0
    ends_after_seconds: float = 240.0
    """How far ahead ``endsAt`` of a firing alert lies: 4 resend delays, as Prometheus."""


@dataclass(frozen=True)
class WebhookSettings:
    """Any HTTP endpoint that takes the notification as JSON."""

    url: Secret
    headers: Mapping[str, Secret] = field(default_factory=dict)
    ca_bundle: str | None = None


@dataclass(frozen=True)
class LogSettings:
    """Notifications written to runwatch's log (the default receiver)."""

    level: str = "warning"


@dataclass(frozen=True)
class MemorySettings:
    """Notifications kept in memory, for tests."""


KindSettings = (
    SlackSettings
    | PagerDutySettings
    | MSTeamsSettings
    | OpsgenieSettings
    | EmailSettings
    | AppriseSettings
    | AlertmanagerSettings
    | WebhookSettings
    | LogSettings
    | MemorySettings
)


@dataclass(frozen=True)
class Receiver:
    """A named destination: its kind, settings and retry policy."""

    name: str
    kind: str
    settings: KindSettings
    fallback: str | None = None
    max_attempts: int = 10
    backoff_seconds: float = 10.0
    max_backoff_seconds: float = 900.0
    timeout_seconds: float = 10.0
    send_resolved: bool = True
    """Alertmanager's key: whether resolved alerts are notified to this receiver."""

    @property
    def resend_delay_seconds(self) -> float | None:
        """How often every firing alert is re-posted (the ``alertmanager`` kind only)."""
        settings = self.settings
        return settings.resend_delay_seconds if isinstance(settings, AlertmanagerSettings) else None

    def secrets(self) -> list[Secret]:
        """Every secret this receiver holds, so messages can be scrubbed of them."""
        found: list[Secret] = []
        for value in vars(self.settings).values():
            if isinstance(value, Secret):
                found.append(value)
            elif isinstance(value, Mapping):
                found.extend(v for v in value.values() if isinstance(v, Secret))
            elif isinstance(value, tuple):
                found.extend(v for v in value if isinstance(v, Secret))
        return found


def default_receiver() -> Receiver:
    """The ``log`` receiver used when none is configured."""
    return Receiver("log", "log", LogSettings())


def parse_receiver(name: str, raw: object, where: KeyPath) -> Receiver:
    """Build one receiver from its mapping under ``alerting.receivers``."""
    body = where.mapping(raw, (*KINDS, *_COMMON))
    kinds = [k for k in KINDS if k in body]
    if len(kinds) != 1:
        where.fail(
            f"expected exactly one receiver kind ({', '.join(KINDS)}), got "
            f"{', '.join(kinds) if kinds else 'none'}"
        )
    kind = kinds[0]
    settings = _PARSERS[kind](body[kind], where.key(kind))
    common: dict[str, Any] = {}
    if "fallback" in body:
        common["fallback"] = where.key("fallback").text(body["fallback"])
    if "max_attempts" in body:
        common["max_attempts"] = where.key("max_attempts").count(body["max_attempts"])
    for key in ("backoff", "max_backoff", "timeout"):
        if key in body:
            common[f"{key}_seconds"] = where.key(key).duration(body[key])
    resolved = body.get("send_resolved", True)
    if not isinstance(resolved, bool):
        where.key("send_resolved").fail(f"expected true or false, got {resolved!r}")
    common["send_resolved"] = resolved
    if common.get("timeout_seconds", 1.0) <= 0:
        where.key("timeout").fail("must be more than 0s")
    return Receiver(name, kind, settings, **common)


def _slack(raw: object, where: KeyPath) -> SlackSettings:
    body = where.mapping(raw, ("webhook_url", "token", "channel", "api_url"))
    if ("webhook_url" in body) == ("token" in body):
        where.fail("expected either webhook_url, or token with channel")
    if "webhook_url" in body:
        for key in ("channel", "token"):
            if key in body:
                where.key(key).fail("not used with webhook_url (the webhook picks the channel)")
        return SlackSettings(webhook_url=_secret_url(body["webhook_url"], where.key("webhook_url")))
    if "channel" not in body:
        where.key("channel").fail("required with token (e.g. '#data-alerts' or a channel id)")
    api_url = _url(body.get("api_url", SlackSettings.api_url), where.key("api_url"))
    return SlackSettings(
        token=where.key("token").secret(body["token"]),
        channel=where.key("channel").text(body["channel"]),
        api_url=api_url if api_url.endswith("/") else api_url + "/",
    )


def _pagerduty(raw: object, where: KeyPath) -> PagerDutySettings:
    body = where.mapping(raw, ("routing_key", "events_url", "ca_bundle", "source"))
    if "routing_key" not in body:
        where.key("routing_key").fail("required (the integration's routing key)")
    url = _url(body.get("events_url", PagerDutySettings.events_url), where.key("events_url"))
    if not url.startswith("https://"):
        where.key("events_url").fail(f"{url!r}: PagerDuty's client accepts https URLs only")
    return PagerDutySettings(
        routing_key=where.key("routing_key").secret(body["routing_key"]),
        events_url=url.rstrip("/"),
        ca_bundle=_file(body.get("ca_bundle"), where.key("ca_bundle")),
        source=where.key("source").text(body.get("source", "runwatch")),
    )


def _msteams(raw: object, where: KeyPath) -> MSTeamsSettings:
    body = where.mapping(raw, ("webhook_url",))
    if "webhook_url" not in body:
        where.key("webhook_url").fail("required (the channel's incoming webhook or Workflows URL)")
    return MSTeamsSettings(_secret_url(body["webhook_url"], where.key("webhook_url")))


_RESPONDER_TYPES = ("team", "user", "escalation", "schedule")
_PRIORITIES = ("P1", "P2", "P3", "P4", "P5")
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def _opsgenie(raw: object, where: KeyPath) -> OpsgenieSettings:
    body = where.mapping(raw, ("api_key", "api_url", "responders", "tags", "priority"))
    if "api_key" not in body:
        where.key("api_key").fail("required (an API integration's key)")
    url = _url(body.get("api_url", OpsgenieSettings.api_url), where.key("api_url"))
    if not url.startswith("https://") and urlsplit(url).hostname not in _LOOPBACK:
        where.key("api_url").fail(f"{url!r}: the API key goes only over https")
    priority = body.get("priority")
    if priority is not None and priority not in _PRIORITIES:
        where.key("priority").fail(f"{priority!r}: expected one of {', '.join(_PRIORITIES)}")
    tags_at = where.key("tags")
    return OpsgenieSettings(
        api_key=where.key("api_key").secret(body["api_key"]),
        api_url=url if url.endswith("/") else url + "/",
        responders=tuple(
            _responder(item, where.key("responders").index(n))
            for n, item in enumerate(where.key("responders").items(body.get("responders")))
        ),
        tags=tuple(tags_at.index(n).text(t) for n, t in enumerate(tags_at.items(body.get("tags")))),
        priority=priority,
    )


def _responder(raw: object, where: KeyPath) -> Mapping[str, str]:
    body = where.mapping(raw, ("type", "id", "name", "username"))
    kind = body.get("type")
    if kind not in _RESPONDER_TYPES:
        where.key("type").fail(f"{kind!r}: expected one of {', '.join(_RESPONDER_TYPES)}")
    named = [k for k in ("id", "name", "username") if k in body]
    if len(named) != 1:
        where.fail("expected exactly one of id, name, username")
    return {"type": kind, named[0]: where.key(named[0]).text(body[named[0]])}


_EMAIL = ("to", "from", "smarthost", "auth_username", "auth_password", "require_tls", "tls_config")


def _email(raw: object, where: KeyPath) -> EmailSettings:
    body = where.mapping(raw, _EMAIL)
    for key, example in (("to", "ops@example.com"), ("from", "runwatch@example.com")):
        if key not in body:
            where.key(key).fail(f"required (e.g. {example})")
    if "smarthost" not in body:
        where.key("smarthost").fail(
            "required: host:port of the SMTP server (e.g. smtp.example.com:587)"
        )
    raw_to = body["to"]
    to = [where.key("to").text(a) for a in (raw_to if isinstance(raw_to, list) else [raw_to])]
    addresses = tuple(_address(a.strip(), where.key("to")) for t in to for a in t.split(","))
    host, _, port = where.key("smarthost").text(body["smarthost"]).rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        where.key("smarthost").fail(f"{body['smarthost']!r}: expected host:port")
    require_tls = body.get("require_tls", True)
    if not isinstance(require_tls, bool):
        where.key("require_tls").fail(f"expected true or false, got {require_tls!r}")
    if ("auth_username" in body) != ("auth_password" in body):
        where.fail("auth_username and auth_password go together")
    password = None
    if "auth_password" in body:
        password = where.key("auth_password").secret(body["auth_password"])
        if not require_tls and int(port) != 465 and host.strip("[]") not in _LOOPBACK:
            where.key("require_tls").fail("false would send auth_password unencrypted")
    tls = where.key("tls_config").mapping(body.get("tls_config"), ("ca_file",))
    return EmailSettings(
        to=addresses,
        sender=_address(where.key("from").text(body["from"]), where.key("from")),
        host=host.strip("[]"),
        port=int(port),
        auth_username=where.key("auth_username").text(body["auth_username"]) if password else None,
        auth_password=password,
        require_tls=require_tls,
        ca_file=_file(tls.get("ca_file"), where.key("tls_config").key("ca_file")),
    )


def _address(text: str, where: KeyPath) -> str:
    name, address = parseaddr(text)
    local, _, domain = address.rpartition("@")
    if not local or "." not in domain or any(c.isspace() for c in address):
        where.fail(f"{text!r}: expected an email address (name@example.com)")
    return formataddr((name, address))


_APPRISE_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")


def _apprise(raw: object, where: KeyPath) -> AppriseSettings:
    body = where.mapping(raw, ("urls",))
    at = where.key("urls")
    urls = at.items(body.get("urls"))
    if not urls:
        at.fail("required: a list of Apprise URLs (e.g. ntfy://ntfy.sh/topic)")
    found = []
    for n, value in enumerate(urls):
        url = at.index(n).secret(value)
        if not _APPRISE_URL.fullmatch(url.reveal()):
            at.index(n).fail("expected an Apprise URL, schema://… (the value is not shown)")
        found.append(url)
    return AppriseSettings(tuple(found))


def _alertmanager(raw: object, where: KeyPath) -> AlertmanagerSettings:
    body = where.mapping(raw, ("url", "ca_bundle", "resend_delay", "ends_after"))
    if "url" not in body:
        where.key("url").fail("required (e.g. http://alertmanager:9093)")
    resend = where.key("resend_delay").duration(body.get("resend_delay", "1m"))
    if resend < 1:
        where.key("resend_delay").fail("must be at least 1s")
    ends_after = where.key("ends_after").duration(body.get("ends_after", 4 * resend))
    if ends_after < resend:
        where.key("ends_after").fail("must be at least resend_delay (Prometheus uses 4 times it)")
    return AlertmanagerSettings(
        url=_url(body["url"], where.key("url")).rstrip("/"),
        ca_bundle=_file(body.get("ca_bundle"), where.key("ca_bundle")),
        resend_delay_seconds=resend,
        ends_after_seconds=ends_after,
    )


def _webhook(raw: object, where: KeyPath) -> WebhookSettings:
    body = where.mapping(raw, ("url", "headers", "ca_bundle"))
    if "url" not in body:
        where.key("url").fail("required")
    url = _secret_url(body["url"], where.key("url"))
    headers_at = where.key("headers")
    headers = {
        name: headers_at.key(name).secret(value)
        for name, value in headers_at.mapping(body.get("headers")).items()
    }
    return WebhookSettings(
        url=url, headers=headers, ca_bundle=_file(body.get("ca_bundle"), where.key("ca_bundle"))
    )


def _log(raw: object, where: KeyPath) -> LogSettings:
    body = where.mapping(raw, ("level",))
    level = body.get("level", "warning")
    if level not in ("debug", "info", "warning", "error"):
        where.key("level").fail(f"{level!r}: expected debug, info, warning or error")
    return LogSettings(level)


def _memory(raw: object, where: KeyPath) -> MemorySettings:
    where.mapping(raw, ())
    return MemorySettings()


_PARSERS: dict[str, Callable[[object, KeyPath], KindSettings]] = {
    "slack": _slack,
    "pagerduty": _pagerduty,
    "msteams": _msteams,
    "opsgenie": _opsgenie,
    "email": _email,
    "apprise": _apprise,
    "alertmanager": _alertmanager,
    "webhook": _webhook,
    "log": _log,
    "memory": _memory,
}


def _url(value: object, where: KeyPath) -> str:
    text = where.text(value)
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        where.fail(f"{text!r}: expected an http:// or https:// URL")
    return text


def _secret_url(value: object, where: KeyPath) -> Secret:
    """A URL that is a secret (a webhook's): checked, and never shown in the message."""
    url = where.secret(value)
    parts = urlsplit(url.reveal())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        where.fail("expected an http:// or https:// URL with a host (the value is not shown)")
    return url


def _file(value: object, where: KeyPath) -> str | None:
    if value is None:
        return None
    path = where.text(value)
    if not Path(path).is_file():
        where.fail(f"{path!r}: no such file")
    return path
