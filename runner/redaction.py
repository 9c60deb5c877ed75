"""Redaction: known secret values, and their recognisable parts, replaced in text.

One Redactor is built at the entry point from everything secret the settings and the
environment hold, and applied wherever output tails, errors and reasons are recorded,
sent or logged. Parts count too: a failing receiver may echo only its webhook URL's path,
a database driver only the password.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from runner.secret import Secret
from runner.taskenv import WITHHELD

REDACTED = "[redacted]"
_MIN_WHOLE = 4
"""A whole secret shorter than this is not searched for (it would match everywhere)."""
_MIN_PART = 8
"""A part of a secret (a URL path segment, a word) shorter than this is not a secret."""
_WORDS = re.compile(r"[\s,;=]+")


class Redactor:
    """Replaces every known secret, and each long part of one, by ``[redacted]``."""

    def __init__(self, secrets: Iterable[Secret | str] = ()) -> None:
        fragments: set[str] = set()
        for secret in secrets:
            text = secret.reveal() if isinstance(secret, Secret) else secret
            fragments.update(fragments_of(text))
        self._use(frozenset(fragments))

    def _use(self, fragments: frozenset[str]) -> None:
        self._fragments = fragments
        ordered = sorted(fragments, key=len, reverse=True)  # longest first: whole before part
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

    def including(self, secrets: Iterable[Secret | str]) -> Redactor:
        """A redactor for these secrets too."""
        combined = Redactor(secrets)
        combined._use(self._fragments | combined._fragments)
        return combined

    def __bool__(self) -> bool:
        return self._pattern is not None

    def redact(self, text: str) -> str:
        """``text`` with every secret and secret part replaced."""
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(REDACTED, text)

    def redact_optional(self, text: str | None) -> str | None:
        """Like ``redact``, passing None through."""
        return None if text is None else self.redact(text)

    def redact_bytes(self, data: bytes) -> bytes:
        """``data`` with every secret replaced; all other bytes, even invalid UTF-8, kept."""
        if self._pattern is None:
            return data
        text = data.decode("utf-8", "surrogateescape")
        return self.redact(text).encode("utf-8", "surrogateescape")

    def redact_tree(self, value: object) -> object:
        """``value`` with every string in it (in dicts, lists and tuples) redacted."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, Mapping):
            return {key: self.redact_tree(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.redact_tree(item) for item in value]
        return value


_SECRET_KEY = re.compile(
    r"token|secret|password|passwd|webhook|routing_key|api_key|headers|heartbeat_url"
)
"""Keys of runwatch.yaml whose literal values are secrets too (not only ``${VAR}`` ones)."""
_CREDENTIAL_URLS = ("RUNWATCH_DB_URL", "RUNWATCH_CELERY_BROKER_URL", "CELERY_BROKER_URL")
"""Variables holding URLs whose only secret part is the password."""


def environment_secrets(env: Mapping[str, str]) -> list[str]:
    """The secrets among the withheld variables of ``env`` (passwords of URLs, headers…)."""
    found: list[str] = []
    for name in WITHHELD:
        value = env.get(name, "")
        if name in _CREDENTIAL_URLS:
            found.extend(url_password(value))
        elif name.endswith("_HEADERS"):
            found.extend(v for _k, _, v in (h.partition("=") for h in value.split(",")) if v)
        elif value:
            found.append(value)
    return found


def settings_secrets(sections: Iterable[object]) -> list[Secret | str]:
    """Secrets in settings sections: interpolated ones and literal values of secret-looking
    keys (``token``, ``webhook_url``, ``routing_key``, ``headers``, a receiver's ``url``…)."""
    return [found for section in sections for found in _literal_secrets(section, secret=False)]


def url_password(url: str) -> list[str]:
    """The password of a URL such as ``postgresql://user:pw@host/db`` (decoded and not)."""
    try:
        password = urlsplit(url).password
    except ValueError:
        return []
    return [password, unquote(password)] if password else []


def _literal_secrets(
    value: object, *, secret: bool, receiver: bool = False
) -> Iterable[Secret | str]:
    """Secrets and the strings under secret-looking keys (a receiver's ``url`` too)."""
    if isinstance(value, Secret) or (secret and isinstance(value, str)):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            name = str(key)
            inside = secret or bool(_SECRET_KEY.search(name)) or (receiver and name == "url")
            yield from _literal_secrets(
                item, secret=inside, receiver=receiver or name == "receivers"
            )
    elif isinstance(value, list):
        for item in value:
            yield from _literal_secrets(item, secret=secret, receiver=receiver)


def fragments_of(text: str) -> set[str]:
    """The strings to search for: the secret, and for URLs and phrases their long parts."""
    if len(text) < _MIN_WHOLE:
        return set()
    parts: set[str] = {word for word in _WORDS.split(text) if len(word) >= _MIN_PART}
    found = {text}
    url = urlsplit(text) if "://" in text else None
    if url is not None and url.netloc:
        parts.update(_url_parts(url.path, url.query))
        if url.password and len(url.password) >= _MIN_WHOLE:
            found.add(url.password)  # a database password is a secret of its own
    found |= {part for part in parts if len(part) >= _MIN_PART}
    return found | {quote(f, safe="") for f in found} | {unquote(f) for f in found}


def _url_parts(path: str, query: str) -> Iterable[str]:
    """The path, query, query values and path segments of a URL."""
    if len(path) > 1:
        yield path
        yield path.lstrip("/")
        yield from (segment for segment in path.split("/") if len(segment) >= _MIN_PART)
    if query:
        yield query
        yield from (value for _key, value in parse_qsl(query) if len(value) >= _MIN_PART)
