"""The schema revisions this runwatch knows: constants, cheap enough for `runwatch wrap`."""

from __future__ import annotations

REVISIONS = (
    "0001",
    "0002",
    "0003",
    "0005",
    "0006",
    "0007",
    "0008",
    "0009",
    "0010",
    "0013",
    "0014",
    "0012",
)
"""Every revision this runwatch knows, oldest first; a database at another one is newer."""

HEAD = REVISIONS[-1]
"""The revision this runwatch writes; checked on every open without importing Alembic."""

__all__ = ["HEAD", "REVISIONS"]
