"""What every command needs, built once from the command line and the environment."""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from runner.errors import UsageError

if TYPE_CHECKING:
    from runner.cli.redacted_logging import LogRedaction
    from runner.config import Settings
    from runner.model import Definitions
    from runner.redaction import Redactor
    from runner.store.store import Store

DB_OPTION_WARNING = (
    "runwatch: warning: --db puts the database password where `ps` shows it to every user;"
    " set RUNWATCH_DB_URL (or db_url: in runwatch.yaml) instead\n"
)


@dataclass
class Context:
    """Settings, definitions and the store, each loaded on first use."""

    args: argparse.Namespace
    env: Mapping[str, str]
    cwd: Path
    log_redaction: LogRedaction | None = None
    """Redacts log records; given the settings' secrets once they are loaded."""
    unread_sections: tuple[str, ...] = ()
    """runwatch.yaml sections this command has no use for: left unread, so a secret they
    reference need not be set (the dashboard does not read the server's ping token)."""
    reads_login: bool = False
    """True for the commands that read ``dashboard.auth`` (``dashboard``, ``check``)."""
    _stores: list[Store] = field(default_factory=list)

    @cached_property
    def settings(self) -> Settings:
        """runwatch.yaml (or --config) with RUNWATCH_* overrides, and --db on top."""
        from runner.config import load_settings

        config = getattr(self.args, "config", None)
        settings = load_settings(
            Path(config) if config else None,
            env=self.env,
            cwd=self.cwd,
            without=self.unread_sections,
            with_login=self.reads_login,
        )
        db = getattr(self.args, "db", None)
        if db:
            import dataclasses
            import sys
            from urllib.parse import urlsplit

            if urlsplit(db).password:
                sys.stderr.write(DB_OPTION_WARNING)
            settings = dataclasses.replace(settings, db_url=db)
        if self.log_redaction is not None:
            from runner.config import redactor_for

            self.log_redaction.redactor = redactor_for(settings, self.env)
        return settings

    @cached_property
    def redactor(self) -> Redactor:
        """Every secret of the settings and the environment, for what runwatch records."""
        if self.log_redaction is not None:
            self.settings  # noqa: B018 - loading the settings builds the redactor
            return self.log_redaction.redactor
        from runner.config import redactor_for

        return redactor_for(self.settings, self.env)

    @cached_property
    def definitions(self) -> Definitions:
        """Jobs from --jobs paths, else from the paths runwatch.yaml names."""
        from runner.definitions import load_definitions

        given = getattr(self.args, "jobs", None)
        paths = [Path(p) for p in given] if given else list(self.settings.job_paths)
        if not paths:
            raise UsageError(
                "no jobs to load: pass --jobs PATH, or create runwatch.yaml with "
                "`jobs: [PATH, ...]` in this directory (or pass --config)"
            )
        return load_definitions(paths, settings_file=self.settings.config_path)

    @property
    def pools(self) -> dict[str, int]:
        """Pool sizes from runwatch.yaml and the job files (job files win)."""
        return {**self.settings.pools, **self.definitions.pools}

    def open_store(self, *, recover: bool = True) -> Store:
        """Open the configured store (closed when the command ends)."""
        from runner.store.store import Store

        store = Store.open(self.settings.db_url, recover=recover)
        self._stores.append(store)
        return store

    def check_store_file(self) -> None:
        """On SQLite, ``PRAGMA quick_check`` the store file; StoreError when it is corrupt."""
        from runner.store.database import parse_url
        from runner.store.integrity import check_sqlite_file

        url = parse_url(self.settings.db_url)
        if url.path is not None:
            check_sqlite_file(url.path)

    def close(self) -> None:
        """Close what was opened."""
        for store in self._stores:
            store.close()
        self._stores.clear()
