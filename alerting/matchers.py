"""Label matchers in Alertmanager's syntax: ``name = value``, ``!=``, ``=~`` and ``!~``.

Regular expressions are anchored (``=~ ml-.*`` matches ``ml-team``, not ``xml-team``), and
an absent label matches as the empty string, as in Alertmanager.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

_MATCHER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$", re.DOTALL)


class MatchOp(StrEnum):
    """How a matcher compares a label's value."""

    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


@dataclass(frozen=True)
class Matcher:
    """One label condition; build it with ``parse_matcher``."""

    name: str
    op: MatchOp
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    def matches(self, labels: Mapping[str, str]) -> bool:
        """True when ``labels`` satisfy this condition (absent labels read as "")."""
        actual = labels.get(self.name, "")
        if self.op is MatchOp.EQUAL:
            return actual == self.value
        if self.op is MatchOp.NOT_EQUAL:
            return actual != self.value
        assert self._regex is not None
        found = self._regex.fullmatch(actual) is not None
        return found if self.op is MatchOp.REGEX else not found

    def __str__(self) -> str:
        return f"{self.name} {self.op.value} {self.value}"


def parse_matcher(text: object) -> Matcher:
    """Parse ``'severity = critical'``, ``'owner=~"ml-.*"'`` and the like.

    Raises ValueError saying what is expected; the value may be double-quoted.
    """
    if not isinstance(text, str):
        raise ValueError(f"expected a matcher such as 'severity = critical', got {text!r}")
    found = _MATCHER.match(text)
    if found is None:
        raise ValueError(
            f"{text!r} is not a matcher: expected 'label = value' with one of = != =~ !~"
        )
    name, op, value = found.group(1), MatchOp(found.group(2)), found.group(3)
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1].replace('\\"', '"')
    regex = None
    if op in (MatchOp.REGEX, MatchOp.NOT_REGEX):
        try:
            regex = re.compile(value)
        except re.error as exc:
            raise ValueError(f"{text!r}: invalid regular expression {value!r}: {exc}") from None
    return Matcher(name, op, value, regex)


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """True when every matcher matches (so an empty list matches everything)."""
    return all(m.matches(labels) for m in matchers)
