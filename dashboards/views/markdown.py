"""Job data inside the dashboard's Markdown: shown as written, never as Markdown.

Names, owners, tags, reasons, error tails and labels come from job files, pings and task
output, and Streamlit renders every label, header, caption and message as Markdown (with
its own extras: ``:red[…]`` colours, ``:emoji:`` codes, ``$…$`` LaTeX). Unescaped, an
owner of ``![x](https://evil.example/p.png)`` would make each viewer's browser fetch
that image.
"""

from __future__ import annotations

import re

_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#!|~$:&^])")
"""What can open Markdown, HTML or Streamlit's extras inline; ``-``, ``.``, ``+`` and
``=`` shape blocks only at the start of a line, and no line break is left."""
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029]+")
_BACKTICKS = re.compile("`+")
_TRACE_ID = re.compile(r"[0-9a-f]{32}")


def text(value: object) -> str:
    """``value`` as literal text on one line: each character that could start Markdown
    backslash-escaped (CommonMark renders an escaped one as itself)."""
    return _SPECIAL.sub(r"\\\1", _LINE_BREAKS.sub(" ", str(value)))


def code(value: object) -> str:
    """``value`` as an inline code span, on one line, whatever backticks it holds."""
    shown = _LINE_BREAKS.sub(" ", str(value))
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(shown)), default=0) + 1)
    pad = " " if shown[:1] == "`" or shown[-1:] == "`" else ""  # one space each side is cut
    return f"{fence}{pad}{shown}{pad}{fence}"


def is_trace_id(value: str) -> bool:
    """True for 32 lowercase hex digits: the only trace ids put in a link."""
    return bool(_TRACE_ID.fullmatch(value))
