"""Schema migrations with Alembic; imported only when the schema must change."""

from __future__ import annotations

from pathlib import Path

from runner.store.database import DatabaseURL, sqlalchemy_url

HEAD = "0002"
"""The revision this runwatch writes; checked on every open without importing Alembic."""

_MIGRATIONS = Path(__file__).with_name("migrations")


def upgrade(url: DatabaseURL, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision`` (default: the newest)."""
    from alembic import command  # noqa: PLC0415 - Alembic is only needed here
    from alembic.config import Config  # noqa: PLC0415
    from sqlalchemy import create_engine  # noqa: PLC0415

    engine = create_engine(sqlalchemy_url(url))
    try:
        with engine.begin() as connection:
            config = Config()
            config.set_main_option("script_location", str(_MIGRATIONS))
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()
