"""What a wrapped command does not get, and what its recorded tail must not show.

A wrapped command keeps the environment cron gave it — it ran with it before ``wrap`` was
put in front of it, and a backup script may well need ``PGPASSWORD`` or its own exporter
headers — except what exists only for runwatch: ``RUNWATCH_DB_URL``, the ping token named
by ``--token-env`` and the variables runwatch.yaml interpolated. The recorded tail is
redacted of every secret runwatch knows, those it passed on included.
"""

from __future__ import annotations

from collections.abc import Mapping

from runner.redaction import Redactor, environment_secrets
from runner.wrap.settings import WrapSettings

WRAP_WITHHELD = ("RUNWATCH_DB_URL",)


def wrapped_environment(
    settings: WrapSettings, env: Mapping[str, str], token_env: str | None
) -> dict[str, str]:
    """``env`` without runwatch's own credentials."""
    interpolated = settings.full.interpolated if settings.full is not None else ()
    withheld = {*WRAP_WITHHELD, *interpolated, token_env}
    return {name: value for name, value in env.items() if name not in withheld}


def wrap_redactor(
    settings: WrapSettings, env: Mapping[str, str], token_env: str | None
) -> Redactor:
    """The secrets of the settings (when a file was read), the environment and the token."""
    if settings.full is not None:
        from runner.config import redactor_for

        base = redactor_for(settings.full, env)
    else:
        base = Redactor(environment_secrets(env))
    token = env.get(token_env or "", "")
    return base.including([token] if token else [])
