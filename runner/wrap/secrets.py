"""What a wrapped command does not get, and what its recorded tail must not show.

A wrapped command keeps the environment cron gave it — it ran with it before ``wrap`` was
put in front of it, and a backup script may well need ``PGPASSWORD`` — except runwatch's
own credentials, which exist only for runwatch: ``RUNWATCH_DB_URL`` and the ping token
named by ``--token-env``. The recorded tail is redacted of every secret runwatch knows.
"""

from __future__ import annotations

from collections.abc import Mapping

from runner.redaction import Redactor, environment_secrets
from runner.wrap.settings import WrapSettings

WRAP_WITHHELD = ("RUNWATCH_DB_URL",)


def wrapped_environment(env: Mapping[str, str], token_env: str | None) -> dict[str, str]:
    """``env`` without runwatch's own credentials."""
    withheld = {*WRAP_WITHHELD, token_env}
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
