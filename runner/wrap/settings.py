"""Where a wrapped run is recorded: the home folder, the database URL and the log cap.

The settings file is found as every command finds it (runner.settings_file). Without
one they come from ``RUNWATCH_HOME`` and ``RUNWATCH_DB_URL`` as ``runner.config`` reads
them, without importing the YAML parser and the definitions layer; with one,
``runner.config.load_settings`` reads it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from runner.settings_file import ETC_DIR, expand_user, find_settings_file

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing; mypy knows the name
if TYPE_CHECKING:
    from runner.config import Settings

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
        alerting_problem: str | None = None,
    ) -> None:
        self.home = home
        self.db_url = db_url
        self.log_cap_bytes = log_cap_bytes
        self.full = full
        self.alerting_problem = alerting_problem
        """Why the settings' alerting section could not be read, if it could not."""

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


def env_settings(env: Mapping[str, str], cwd: str, db: str | None = None) -> WrapSettings:
    """Settings from the environment alone, as runner.config resolves them without a file."""
    if env.get("RUNWATCH_HOME"):
        home = os.path.normpath(os.path.join(cwd, expand_user(env["RUNWATCH_HOME"], env)))
    else:
        home = expand_user("~/.runwatch", env)
    url = db or env.get("RUNWATCH_DB_URL") or f"sqlite:///{home}/runwatch.db"
    return WrapSettings(home, url)


def load_wrap_settings(
    env: Mapping[str, str],
    cwd: str,
    *,
    config: str | None = None,
    db: str | None = None,
    etc_dir: str = ETC_DIR,
) -> WrapSettings:
    """The settings for this wrapped run; raises RunwatchError for a bad config file.

    A broken ``alerting:`` section (a receiver's secret missing from cron's environment,
    say) does not lose the store the file names: the run is recorded there, and
    ``alerting_problem`` says why this process cannot alert.
    """
    path = find_settings_file(config, env, cwd, etc_dir=etc_dir)
    if path is None:
        return env_settings(env, cwd, db)
    from pathlib import Path

    from runner.config import load_settings
    from runner.errors import RunwatchError

    problem = None
    try:
        full = load_settings(Path(path), env=env, cwd=Path(cwd))
    except RunwatchError as exc:
        full = load_settings(Path(path), env=env, cwd=Path(cwd), without=("alerting",))
        problem = str(exc)
    if db is not None:
        import dataclasses

        full = dataclasses.replace(full, db_url=db)
    return WrapSettings(
        str(full.home),
        full.db_url,
        log_cap_bytes=full.log_cap_bytes,
        full=full,
        alerting_problem=problem,
    )
