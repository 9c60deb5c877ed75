"""Where a value sits in runwatch.yaml, and the typed reads that fail naming that place."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from runner import config_fields
from runner.errors import DefinitionError
from runner.secret import Secret, SecretReferenceError, interpolate


@dataclass(frozen=True)
class KeyPath:
    """A key path such as ``alerting.route.routes[0].receiver`` in a named file."""

    file: str
    parts: tuple[str, ...] = ()
    env: Mapping[str, str] | None = None
    """Resolves ``${VAR}`` in secrets; None when the settings loader has already done it."""

    def __str__(self) -> str:
        text = ""
        for part in self.parts:
            text += part if part.startswith("[") or not text else f".{part}"
        return text

    def key(self, name: str) -> KeyPath:
        """The path of ``name`` inside this mapping."""
        return KeyPath(self.file, (*self.parts, name), self.env)

    def index(self, number: int) -> KeyPath:
        """The path of item ``number`` of this list."""
        return KeyPath(self.file, (*self.parts, f"[{number}]"), self.env)

    def error(self, what: str) -> DefinitionError:
        """A DefinitionError naming the file, this key and what is wrong."""
        return DefinitionError(f"{self.file}: {self}: {what}")

    def fail(self, what: str) -> NoReturn:
        """Raise ``error(what)``."""
        raise self.error(what)

    # -- typed reads --------------------------------------------------------------------

    def mapping(self, value: object, known: Sequence[str] | None = None) -> Mapping[str, Any]:
        """``value`` as a mapping (None is empty); with ``known``, reject other keys."""
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.fail(f"expected a mapping, got {_kind(value)}")
        for key in value:
            if not isinstance(key, str):
                self.fail(f"keys must be strings, got {key!r}")
            if known is not None and key not in known:
                close = config_fields.close_match(key, known)
                hint = f"did you mean {close!r}? " if close else ""
                self.key(key).fail(f"unknown key ({hint}expected one of: {', '.join(known)})")
        return value

    def items(self, value: object) -> list[Any]:
        """``value`` as a list (None is empty)."""
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(f"expected a list, got {_kind(value)}")
        return value

    def text(self, value: object) -> str:
        """``value`` as a non-empty string (a settings secret is read as its text)."""
        if isinstance(value, Secret):
            value = value.reveal()
        return config_fields.text(value, self, show=_kind)

    def duration(self, value: object) -> float:
        """``value`` as seconds, from ``30s``, ``5m``, ``1h30m`` or a number."""
        return config_fields.duration(value, self)

    def count(self, value: object, minimum: int = 1) -> int:
        """``value`` as a whole number of at least ``minimum``."""
        return config_fields.whole_number(value, self, minimum, show=repr)

    def secret(self, value: object) -> Secret:
        """A secret: a string (``${VAR}`` resolved from the environment) or a settings secret.

        The message on failure names the variable, never the value.
        """
        if isinstance(value, Secret):
            resolved = value.reveal()
        elif not isinstance(value, str):
            self.fail(f"expected a string or ${{VAR}} reference, got {_kind(value)}")
        elif self.env is None:
            resolved = value
        else:
            try:
                result = interpolate(value, self.env)
            except SecretReferenceError as exc:
                self.fail(str(exc))
            resolved = result.reveal() if isinstance(result, Secret) else result
        if not resolved.strip():
            self.fail("is empty")
        return value if isinstance(value, Secret) else Secret(resolved)


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return f"{value!r}" if len(value) < 60 else "a long string"
    if isinstance(value, bool | int | float):
        return repr(value)
    return f"a {type(value).__name__}"
