"""``env_file:`` — a dotenv file of ``KEY=VALUE`` lines, read for ``${VAR}`` interpolation.

The grammar is the common dotenv subset: blank lines and ``#`` comments, an optional
``export`` prefix, values bare (an inline `` #`` starts a comment), in single quotes
(literal) or in double quotes (``\\n``, ``\\t``, ``\\"`` and ``\\\\`` escapes). No variable
expansion and no multi-line values. The file must be private (mode 0600 or stricter).
"""

from __future__ import annotations

import re
from pathlib import Path

from runner.errors import DefinitionError
from runner.secret import SecretReferenceError, check_private

_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "$": "$"}


def read_env_file(path: Path) -> dict[str, str]:
    """The variables of the dotenv file at ``path``; errors name ``path:line``."""
    try:
        check_private(path, "env_file")
        text = path.read_text(encoding="utf-8")
    except SecretReferenceError as exc:
        raise DefinitionError(str(exc)) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
        raise DefinitionError(f"env_file {path} cannot be read: {reason}") from None
    variables: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        match = _LINE.match(line)
        if match is None:
            raise DefinitionError(f"{path}:{number}: expected KEY=VALUE (a name, '=', a value)")
        try:
            variables[match.group(1)] = _value(match.group(2))
        except ValueError as exc:
            raise DefinitionError(f"{path}:{number}: {match.group(1)}: {exc}") from None
    return variables


def _value(raw: str) -> str:
    if raw[:1] in ("'", '"'):
        quote = raw[0]
        end = _closing_quote(raw, quote)
        rest = raw[end + 1 :].strip()
        if rest and not rest.startswith("#"):
            raise ValueError(f"unexpected text after the closing {quote}")
        body = raw[1:end]
        return body if quote == "'" else _unescape(body)
    return re.split(r"\s+#", raw, maxsplit=1)[0]


def _closing_quote(raw: str, quote: str) -> int:
    index = 1
    while index < len(raw):
        if raw[index] == "\\" and quote == '"':
            index += 2
            continue
        if raw[index] == quote:
            return index
        index += 1
    raise ValueError(f"the value has no closing {quote} (values are one line)")


def _unescape(body: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), body)
