"""Redaction: known secret values, and their recognisable parts, replaced in text.

One Redactor is built at the entry point from everything secret the settings and the
environment hold, and applied wherever output tails, errors and reasons are recorded,
sent or logged. Parts count too: a failing receiver may echo only its webhook URL's path,
a database driver only the password.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from runner.secret import Secret

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
        ordered = sorted(fragments, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, ordered))) if ordered else None

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


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the message (arguments merged) of every record."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message without secrets; never drops a record."""
        message = record.getMessage()
        cleaned = self.redactor.redact(message)
        if record.exc_info and record.exc_text is None:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor.redact(record.exc_text)
        if cleaned != message or record.args:
            record.msg, record.args = cleaned, None
        return True
