"""Safe annotation templates: ``{field}`` placeholders, nothing else.

No attribute access, indexing or format specs, so a template can never run code or
reach into objects; unknown fields render empty. ``{{`` and ``}}`` are literal braces.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


def render(template: str, fields: Mapping[str, object]) -> str:
    """Fill ``{name}`` placeholders from ``fields``; None and unknown names render empty."""

    def _fill(match: re.Match[str]) -> str:
        whole = match.group(0)
        if whole == "{{":
            return "{"
        if whole == "}}":
            return "}"
        value = fields.get(match.group(1))
        return "" if value is None else str(value)

    return _PLACEHOLDER.sub(_fill, template)
