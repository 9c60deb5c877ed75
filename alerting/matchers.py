"""Label matchers in Alertmanager's own grammar, with RE2 regular expressions.

``parse_matchers`` reads what Alertmanager's ``ParseMatchers`` reads: an optional ``{…}``,
comma-separated matchers (commas inside double quotes do not separate), each
``name op value`` with ``op`` one of ``=``, ``!=``, ``=~``, ``!~``. Label names are
Prometheus names, ``:`` included; as Alertmanager's newer parser allows, a name may also
be double-quoted to hold any UTF-8. A value may be double-quoted, with ``\\"``, ``\\\\``
and ``\\n`` escapes. Regular expressions are RE2's, anchored as Alertmanager anchors them
(``^(?:…)$``), so a regex means the same here, in Alertmanager and in Prometheus. An absent
label reads as the empty string.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from runner.errors import DefinitionError

_WS = "[\t\n\f\r ]*"  # Go's \s: ASCII whitespace only
_OP = "(=~|=|!=|!~)"
_CLASSIC = re.compile(rf"^{_WS}([a-zA-Z_:][a-zA-Z0-9_:]*){_WS}{_OP}{_WS}(.*?){_WS}\Z", re.DOTALL)
_QUOTED_NAME = re.compile(rf'^{_WS}"((?:[^"\\]|\\.)*)"{_WS}{_OP}{_WS}(.*?){_WS}\Z', re.DOTALL)
_PLAIN_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
_ESCAPES = {"n": "\n", '"': '"', "\\": "\\"}


class MatcherError(DefinitionError):
    """A matcher Alertmanager would reject; the message quotes it and says why."""


class MatchOp(StrEnum):
    """How a matcher compares a label's value."""

    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


@dataclass(frozen=True)
class Matcher:
    """One label condition; build it with ``parse_matcher`` or ``new_matcher``."""

    name: str
    op: MatchOp
    value: str
    _regex: Any = field(default=None, compare=False, repr=False)

    def matches(self, labels: Mapping[str, str]) -> bool:
        """True when ``labels`` satisfy this condition (absent labels read as "")."""
        actual = labels.get(self.name, "")
        if self.op is MatchOp.EQUAL:
            return actual == self.value
        if self.op is MatchOp.NOT_EQUAL:
            return actual != self.value
        found = self._regex.search(actual) is not None
        return found if self.op is MatchOp.REGEX else not found

    def __str__(self) -> str:
        name = self.name if _PLAIN_NAME.match(self.name) else quote(self.name)
        return f"{name}{self.op.value}{quote(self.value)}"


def quote(text: str) -> str:
    """``text`` double-quoted with Alertmanager's escapes (re-parses to ``text``)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def new_matcher(name: str, op: MatchOp, value: str) -> Matcher:
    """A matcher from its parts; a regex is compiled by RE2 and anchored (MatcherError)."""
    if op not in (MatchOp.REGEX, MatchOp.NOT_REGEX):
        return Matcher(name, op, value)
    import re2

    if _has_any_byte_escape(value):
        raise MatcherError(
            f"invalid RE2 regular expression {value!r}: \\C (any byte) is not supported"
        )
    options = re2.Options()
    options.log_errors = False
    try:
        regex = re2.compile(f"^(?:{value})$", options)
    except re2.error as anchored:
        reason = _reason(anchored)
        try:
            re2.compile(value, options)
        except re2.error as plain:  # says what is wrong in the user's own text
            reason = _reason(plain)
        raise MatcherError(f"invalid RE2 regular expression {value!r}: {reason}") from None
    return Matcher(name, op, value, regex)


def _reason(error: Exception) -> str:
    text = error.args[0] if error.args else error
    return text.decode(errors="replace") if isinstance(text, bytes) else str(text)


def parse_matcher(text: object) -> Matcher:
    """Exactly one matcher, as Alertmanager's ``ParseMatcher`` reads it (no comma list)."""
    if not isinstance(text, str):
        raise MatcherError(f"expected a matcher such as 'severity=\"critical\"', got {text!r}")
    found = _CLASSIC.match(text)
    if found is not None:
        name = found.group(1)
    else:
        found = _QUOTED_NAME.match(text)
        if found is None:
            raise MatcherError(
                f"bad matcher {text!r}: expected label=value, label!=value, "
                "label=~regex or label!~regex"
            )
        name = _unescape(found.group(1))
        if not name:
            raise MatcherError(f"bad matcher {text!r}: the label name is empty")
    try:
        return new_matcher(name, MatchOp(found.group(2)), _value(found.group(3)))
    except MatcherError as exc:
        raise MatcherError(f"bad matcher {text!r}: {exc}") from None


def parse_matchers(text: object) -> list[Matcher]:
    """A comma list such as ``{env="prod", severity=~"crit.*"}`` (``{}`` and ``""``: none)."""
    if not isinstance(text, str):
        raise MatcherError(f"expected matchers such as 'env=\"prod\"', got {text!r}")
    body = text.removeprefix("{").removesuffix("}")
    tokens = _split(body)
    try:
        return [parse_matcher(token) for token in tokens]
    except MatcherError as exc:
        if len(tokens) == 1:
            raise
        raise MatcherError(f"in {text!r}: {exc}") from None


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """True when every matcher matches (so an empty list matches everything)."""
    return all(m.matches(labels) for m in matchers)


def _split(body: str) -> list[str]:
    """Split at commas outside double quotes; a trailing comma (and blanks) is dropped."""
    tokens: list[str] = []
    token: list[str] = []
    quoted = escaped = False
    for char in body:
        if char == "," and not quoted:
            tokens.append("".join(token))
            token = []
            continue
        if char == '"':
            quoted = quoted if escaped else not quoted
            escaped = False
        elif char == "\\":
            escaped = not escaped
        else:
            escaped = False
        token.append(char)
    last = "".join(token).strip()
    if last:
        tokens.append(last)
    return tokens


def _value(raw: str) -> str:
    """The value token unquoted and unescaped, as Alertmanager does (MatcherError)."""
    quoted = raw.startswith('"')
    body = raw[1:] if quoted else raw
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i < len(body) - 1:
            following = body[i + 1]
            out.append(_ESCAPES.get(following, "\\" + following))
            i += 2
            continue
        if char == '"':
            if not quoted or i < len(body) - 1:
                raise MatcherError(f"the value {raw!r} has an unescaped double quote")
            quoted = False
        else:
            out.append(char)
        i += 1
    if quoted:
        raise MatcherError(f"the value {raw!r} lacks its closing double quote")
    return "".join(out)


def _has_any_byte_escape(regex: str) -> bool:
    """True when ``regex`` uses ``\\C``, which RE2 accepts but Go's regexp does not."""
    i = 0
    while i < len(regex) - 1:
        if regex[i] == "\\":
            if regex[i + 1] == "C":
                return True
            i += 1
        i += 1
    return False


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(0)), text, flags=re.DOTALL)
