"""Where a wrapped run is recorded: the home folder, the database URL and the log cap.

Without a runwatch.yaml (the usual crontab case) they come from ``RUNWATCH_HOME`` and
``RUNWATCH_DB_URL`` as ``runner.config`` reads them, without importing the YAML parser
and the definitions layer. With a config file, ``runner.config.load_settings`` reads it.
"""

from __future__ import annotations

import os
import pwd
from collections.abc import Mapping

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    from runner.config import Settings

CONFIG_NAME = "runwatch.yaml"
DEFAULT_LOG_CAP_BYTES = 10 * 1024 * 1024


class WrapSettings:
    """The few settings a wrapped run needs; ``full`` is runner.config's Settings when a
    config file was read (for in-run alert delivery)."""

    def __init__(
        self,
        home: str,
        db_url: str,
        *,
        log_cap_bytes: int = DEFAULT_LOG_CAP_BYTES,
        full: Settings | None = None,
    ) -> None:
        self.home = home
        self.db_url = db_url
        self.log_cap_bytes = log_cap_bytes
        self.full = full

    @property
    def alert_rules(self) -> bool:
        """True when the config file declares alert rules for this process to evaluate."""
        return self.full is not None and bool(self.full.alerting.get("rules"))

    @property
    def spool_dir(self) -> str:
        """``$RUNWATCH_HOME/spool``: results waiting for the store."""
        return os.path.join(self.home, "spool")

    @property
    def lock_dir(self) -> str:
        """``$RUNWATCH_HOME/locks``: one lock file per wrapped job."""
        return os.path.join(self.home, "locks")

    @property
    def log_dir(self) -> str:
        """``$RUNWATCH_HOME/logs``, where every attempt's output goes."""
        return os.path.join(self.home, "logs")


def _expand_user(text: str, env: Mapping[str, str]) -> str:
    if text != "~" and not text.startswith("~/"):
        return text
    user_home = env.get("HOME") or pwd.getpwuid(os.getuid()).pw_dir
    return os.path.join(user_home, text[2:])


def env_settings(env: Mapping[str, str], cwd: str, db: str | None = None) -> WrapSettings:
    """Settings from the environment alone, as runner.config resolves them without a file."""
    if env.get("RUNWATCH_HOME"):
        home = os.path.normpath(os.path.join(cwd, _expand_user(env["RUNWATCH_HOME"], env)))
    else:
        home = _expand_user("~/.runwatch", env)
    url = db or env.get("RUNWATCH_DB_URL") or f"sqlite:///{home}/runwatch.db"
    return WrapSettings(home, url)


def config_file(config: str | None, cwd: str) -> str | None:
    """The config file to read: ``--config``, else ``runwatch.yaml`` in ``cwd`` if present."""
    if config is not None:
        return config
    candidate = os.path.join(cwd, CONFIG_NAME)
    return candidate if os.path.isfile(candidate) else None


def load_wrap_settings(
    env: Mapping[str, str], cwd: str, *, config: str | None = None, db: str | None = None
) -> WrapSettings:
    """The settings for this wrapped run; raises RunwatchError for a bad config file."""
    path = config_file(config, cwd)
    if path is None:
        return env_settings(env, cwd, db)
    from pathlib import Path

    from runner.config import load_settings

    full = load_settings(Path(path), env=env, cwd=Path(cwd))
    if db is not None:
        import dataclasses

        full = dataclasses.replace(full, db_url=db)
    return WrapSettings(str(full.home), full.db_url, log_cap_bytes=full.log_cap_bytes, full=full)
