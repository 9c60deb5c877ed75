"""Environment assignment lines (``NAME = value``), read as each cron reads them.

Cron tries every active line as an assignment first. cronie and ISC cron 4 walk it with
a small state machine: an optional quote around the name, ``=`` with C whitespace
(space, tab, ``\\v``, ``\\f``, ``\\r``) around it, then either a quoted value with nothing
but whitespace after it, or the rest of the line with trailing whitespace removed.
Vixie cron 3/4.1 (and the crons derived from it) use ``sscanf("%[^ =] = %[^\\n#]")``
instead: the value stops at ``#`` and only a value quoted at both ends loses its quotes.
A line they read differently is reported, never guessed at. ``%`` is an ordinary
character in assignments to every cron.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

C_SPACE = " \t\n\v\f\r"
"""What C's isspace() accepts (the C locale): the whitespace of assignment lines."""
_QUOTES = "'\""
_VIXIE_NAME = re.compile(r"[^ =]+")
_VIXIE_VALUE = re.compile(r"[^\n#]+")


@dataclass(frozen=True)
class Reading:
    """How one line reads as an assignment: ``(name, value)``, or None when it is not one."""

    isc: tuple[str, str] | None
    vixie: tuple[str, str] | None

    @property
    def agreed(self) -> tuple[str, str] | None:
        """The assignment when both readings agree on it."""
        return self.isc if self.isc == self.vixie else None

    @property
    def is_assignment(self) -> bool:
        """True when any cron reads the line as an assignment."""
        return self.isc is not None or self.vixie is not None

    def disagreement(self) -> str:
        """Why the readings differ, for a message."""

        def said(reading: tuple[str, str] | None) -> str:
            if reading is None:
                return "not an assignment"
            return f"{reading[0]!r} = {reading[1]!r}"

        return (
            f"crons read this assignment differently (cronie and ISC cron: "
            f"{said(self.isc)}; vixie cron: {said(self.vixie)}); write it as NAME=value, "
            "without '#', quotes only around the whole value"
        )


def read_assignment(body: str) -> Reading:
    """Both readings of a line (``body``: the line from its first non-blank character)."""
    return Reading(isc=_isc(body), vixie=_vixie(body))


def _isc(body: str) -> tuple[str, str] | None:
    """The state machine of cronie's and ISC cron's load_env()."""
    name: list[str] = []
    value: list[str] = []
    part, quote, state, index = name, "", "name-start", 0
    while state != "error" and index < len(body):
        char = body[index]
        if state in ("name-start", "value-start"):
            state = "name" if state == "name-start" else "value"
            if char in _QUOTES:
                quote, index = char, index + 1
                continue
        if state in ("name", "value"):
            if quote and char == quote:
                state = "before-equals" if state == "name" else "done"
                index += 1
            elif quote and state == "name" and char == "=":
                state = "error"
            elif not quote and state == "name" and char in C_SPACE + "=":
                state = "before-equals"
                index += char != "="
            else:
                part.append(char)
                index += 1
        elif state == "before-equals":
            if char == "=":
                state, part, quote = "after-equals", value, ""
            elif char not in C_SPACE:
                state = "error"
            index += 1
        elif char in C_SPACE:  # after-equals, done: skip whitespace
            index += 1
        else:
            state = "value-start" if state == "after-equals" else "error"
    if state == "value" and not quote:
        return "".join(name), "".join(value).rstrip(C_SPACE)
    if state == "done":
        return "".join(name), "".join(value)
    return None


def _vixie(body: str) -> tuple[str, str] | None:
    """Vixie cron's ``sscanf(line, "%[^ =] = %[^\\n#]", name, value)`` and quote removal."""
    name = _VIXIE_NAME.match(body)
    if name is None:
        return None
    rest = body[name.end() :].lstrip(C_SPACE)
    if not rest.startswith("="):
        return None
    found = _VIXIE_VALUE.match(rest[1:].lstrip(C_SPACE))
    if found is None:
        return None
    value = found[0].rstrip(C_SPACE)
    if len(value) >= 2 and value[0] in _QUOTES and value[-1] == value[0]:
        value = value[1:-1]
    return name[0], value
