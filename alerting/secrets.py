"""Secret values (webhook URLs, tokens, routing keys) that never show in repr, logs or errors."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_REVEAL_METHODS = ("reveal", "get_secret_value", "get_value", "get")


@dataclass(frozen=True)
class Secret:
    """A secret string; ``reveal()`` is the only way to read it."""

    _value: str = field(repr=False)

    def reveal(self) -> str:
        """The secret itself, for the one call that needs it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"


def references(text: str) -> list[str]:
    """The ``${VAR}`` names referenced in ``text``, in order."""
    return _REFERENCE.findall(text)


def interpolate(text: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """``text`` with ``${VAR}`` replaced from ``env``, and the names that were not set."""
    missing: list[str] = []

    def _value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env or env[name] == "":
            missing.append(name)
            return ""
        return env[name]

    return _REFERENCE.sub(_value, text), missing


def reveal_foreign(value: object) -> str | None:
    """The text of a secret object from ``runner.config`` (or None if it is not one).

    Settings loading wraps ``${VAR}`` values in its own secret type; accept any object
    that offers one of the usual reveal methods, so this package does not depend on it.
    """
    for name in _REVEAL_METHODS:
        method = getattr(value, name, None)
        if callable(method):
            result = method()
            if isinstance(result, str):
                return result
    inner = getattr(value, "value", None)
    return inner if isinstance(inner, str) else None


def scrub(message: str, secrets: Iterable[Secret]) -> str:
    """``message`` with every secret's text (and any long part of it) replaced by ``***``."""
    for secret in secrets:
        text = secret.reveal()
        if len(text) >= 4:
            message = message.replace(text, "***")
    return message
