"""Whether OpenLineage is configured, decided without importing the client (serve's
start-up stays light when it is not)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

DEFAULT_NAMESPACE = "runwatch"
"""The OpenLineage job namespace when ``OPENLINEAGE_NAMESPACE`` is not set."""


def lineage_configured(env: Mapping[str, str], cwd: Path, home: Path) -> bool:
    """True when the OpenLineage client would find a configuration, as it looks for one:
    ``OPENLINEAGE_URL``, ``OPENLINEAGE_CONFIG``, ``OPENLINEAGE__TRANSPORT__*`` variables,
    ``./openlineage.yml`` or ``~/.openlineage/openlineage.yml``; never when
    ``OPENLINEAGE_DISABLED=true``."""
    if env.get("OPENLINEAGE_DISABLED", "").strip().lower() == "true":
        return False
    if env.get("OPENLINEAGE_URL") or env.get("OPENLINEAGE_CONFIG"):
        return True
    if any(key.startswith("OPENLINEAGE__TRANSPORT") for key in env):
        return True
    files = (cwd / "openlineage.yml", home / ".openlineage" / "openlineage.yml")
    return any(path.is_file() for path in files)


def job_namespace(env: Mapping[str, str]) -> str:
    """The namespace of runwatch's jobs in OpenLineage (``OPENLINEAGE_NAMESPACE``)."""
    return env.get("OPENLINEAGE_NAMESPACE", "").strip() or DEFAULT_NAMESPACE
