"""Cron's ``%`` rule, both ways.

In a job line's command cron reads a backslash as taking the next character with it: ``\\%``
becomes ``%``, and any other pair (``\\\\``, ``\\x``) stays as written. The first ``%`` not
taken by a backslash ends the command; what follows is written to the command's standard
input, where each ``%`` not taken by a backslash becomes a newline, ``\\%`` a ``%``, and a
newline ends the input when it does not already. So ``\\\\%`` is a backslash pair followed
by a ``%`` that ends the command — not an escaped ``%``.
"""

from __future__ import annotations


class UnencodableError(ValueError):
    """A text cron's ``%`` rule cannot produce (a ``%`` right after an unpaired backslash)."""


def split_command(raw: str) -> tuple[str, str | None]:
    """The command cron hands to the shell, and the raw text after its first free ``%``."""
    out: list[str] = []
    taken = False
    for index, char in enumerate(raw):
        if taken:
            if char == "%":
                out[-1] = "%"  # the backslash gives way to the percent sign
            else:
                out.append(char)
            taken = False
        elif char == "\\":
            out.append(char)
            taken = True
        elif char == "%":
            return "".join(out), raw[index + 1 :]
        else:
            out.append(char)
    return "".join(out), None


def stdin_text(raw: str) -> str:
    """What cron writes to the command's standard input for the text after the first ``%``."""
    out: list[str] = []
    pending_backslash = False
    for char in raw:
        if pending_backslash:
            pending_backslash = False
            if char == "%":
                out.append("%")
                continue
            out.append("\\")
        elif char == "%":
            out.append("\n")
            continue
        if char == "\\":
            pending_backslash = True
        else:
            out.append(char)
    if pending_backslash:
        out.append("\\")
    text = "".join(out)
    return text if not text or text.endswith("\n") else text + "\n"


def encode_command(text: str, *, stdin_follows: bool) -> str:
    """The raw command part that cron turns back into exactly ``text``.

    UnencodableError when no raw text does: cron never yields a ``%`` right after a
    backslash it has not paired, nor (with standard input after it) a trailing backslash.
    """
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "%":
            out.append("\\%")
        elif char == "\\":
            following = text[index + 1 : index + 2]
            if following == "%" or (not following and stdin_follows):
                raise UnencodableError(
                    "cron cannot pass a backslash followed by '%' (or a final backslash "
                    "before standard input) to a command"
                )
            out.append(char + following)
            index += 1
        else:
            out.append(char)
        index += 1
    return "".join(out)
