"""Secrets: strings that must never be shown in output, logs, errors or the database.

This is the one home of the Secret type and of ``${VAR}`` / ``${file:PATH}`` references:
settings loading (``runner.config``) and alerting both resolve references here.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping

from runner.errors import RunwatchError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (wrap's budget)
if TYPE_CHECKING:
    from pathlib import Path

REFERENCE = re.compile(r"\$\$\{|\$\{file:([^}]*)\}|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$\{")
"""``$${`` (a literal ``${``), ``${file:PATH}``, ``${NAME}``, or a malformed ``${``."""


class Secret:
    """A string that came from the environment or a secret file; shown as ``'***'``.

    Call ``reveal()`` only where the value is handed to the service that needs it.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The secret value itself."""
        return self._value

    def __str__(self) -> str:
        return "***"

    def __repr__(self) -> str:
        return "'***'"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash((Secret, self._value))


class SecretReferenceError(RunwatchError, ValueError):
    """A ``${…}`` reference cannot be resolved; the message never holds a secret value."""


def references(text: str) -> list[str]:
    """The ``${NAME}`` variable names referenced in ``text``, in order."""
    return [m.group(2) for m in REFERENCE.finditer(text) if m.group(2)]


def interpolate(
    text: str,
    env: Mapping[str, str],
    base: Path | None = None,
    pieces: list[str] | None = None,
) -> str | Secret:
    """``text`` with ``${NAME}`` and ``${file:PATH}`` replaced; a Secret if any was.

    ``$${`` is a literal ``${``. A relative ``PATH`` is relative to ``base`` (the folder of
    the settings file). Each substituted value is appended to ``pieces`` when given.
    Raises SecretReferenceError naming the variable or file, never a value.
    """
    replaced = False
    found: list[str] = [] if pieces is None else pieces

    def substitute(match: re.Match[str]) -> str:
        nonlocal replaced
        if match.group(0) == "$${":
            return "${"
        file_path, name = match.group(1), match.group(2)
        if file_path is not None:
            replaced = True
            found.append(read_secret_file(_resolve(file_path, base)))
            return found[-1]
        if name is None:
            raise SecretReferenceError(
                "expected ${NAME} or ${file:PATH} (write $${ for a literal ${)"
            )
        if name not in env:
            raise SecretReferenceError(f"environment variable {name} is not set")
        replaced = True
        found.append(env[name])
        return env[name]

    result = REFERENCE.sub(substitute, text)
    return Secret(result) if replaced else result


def _resolve(text: str, base: Path | None) -> Path:
    if not text.strip():
        raise SecretReferenceError("${file:} needs a path, e.g. ${file:/etc/runwatch/slack-url}")
    from pathlib import Path  # only for ${file:…}: wrap's path imports no pathlib

    path = Path(text).expanduser()
    return path if path.is_absolute() or base is None else base / path


def check_private(path: Path, what: str = "secret file") -> os.stat_result:
    """The stat of ``path``, refused (as ssh refuses keys) if group or others may read it."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise SecretReferenceError(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise SecretReferenceError(f"{what} {path} cannot be read: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise SecretReferenceError(f"{what} {path} is not a regular file")
    if info.st_mode & 0o077:
        mode = stat.S_IMODE(info.st_mode)
        raise SecretReferenceError(
            f"{what} {path} is readable by group or others (mode {mode:04o}); run: chmod 600 {path}"
        )
    return info


def read_secret_file(path: Path) -> str:
    """The content of a private secret file, one trailing newline stripped."""
    check_private(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise SecretReferenceError(f"secret file {path} cannot be read: {reason}") from None
    return text.removesuffix("\n").removesuffix("\r")
