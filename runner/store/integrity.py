"""A damaged SQLite store is said plainly: ``PRAGMA quick_check`` and its advice."""

from __future__ import annotations

import os
import sqlite3

from runner.errors import StoreError

CORRUPT_MARKERS = ("malformed", "file is not a database", "database corruption")
"""What SQLite's messages say when the file itself is damaged."""


def corrupt_advice(path: str) -> str:
    """What to do about a corrupt store file at ``path``."""
    return (
        f"the store file {path} is corrupt: stop every runwatch using it, keep a copy, and "
        f"restore it from a backup (or save what is left: `sqlite3 {path} .recover | "
        "sqlite3 NEW.db`, then point RUNWATCH_DB_URL at NEW.db)"
    )


def is_corrupt(exc: BaseException) -> bool:
    """True when a driver error says the database file is damaged."""
    text = str(exc).lower()
    return any(marker in text for marker in CORRUPT_MARKERS)


def check_sqlite_file(path: str) -> None:
    """Run ``PRAGMA quick_check`` on the SQLite store at ``path`` (if the file exists);
    StoreError with the advice when the file is corrupt."""
    if not os.path.exists(path):
        return
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10.0)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot open database {path}: {exc}") from exc
    try:
        findings = [str(row[0]) for row in conn.execute("PRAGMA quick_check").fetchall()]
    except sqlite3.DatabaseError as exc:
        if not is_corrupt(exc):
            raise StoreError(f"database {path}: {exc}") from exc
        findings = [str(exc)]
    finally:
        conn.close()
    if findings != ["ok"]:
        raise StoreError(f"{corrupt_advice(path)}; quick_check: {'; '.join(findings[:3])}")
