"""Streamlit's secrets for the dashboard's login, written where only this user reads them.

Streamlit reads its OpenID Connect settings from the ``[auth]`` table of a secrets.toml;
``runwatch dashboard`` builds that table from ``dashboard.auth`` (its ``${VAR}`` secrets
revealed only here), writes it to a fresh private folder (0700, the file 0600) and hands
Streamlit the path with ``--secrets.files``. The folder is removed when the dashboard stops.
Nothing of it is printed or logged.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path


def toml_table(name: str, values: Mapping[str, str]) -> str:
    """A TOML table of strings (JSON's string escapes are TOML basic strings)."""
    lines = [f"[{name}]"]
    lines.extend(f"{key} = {json.dumps(value)}" for key, value in values.items())
    return "\n".join(lines) + "\n"


@contextmanager
def private_secrets_file(auth: Mapping[str, str] | None) -> Iterator[Path | None]:
    """A secrets.toml holding ``[auth]`` for as long as the context lasts; None without
    a login to configure."""
    if auth is None:
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix="runwatch-dashboard-"))
    try:
        path = folder / "secrets.toml"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(toml_table("auth", auth))
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)
