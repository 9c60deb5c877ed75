"""Schema creation and migration, on every backend: fresh, old, newer, concurrent, failed."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

from runner.errors import StoreError
from runner.store import migrate
from runner.store.database import Database, parse_url, redact_url, sqlalchemy_url
from runner.store.schema import metadata
from runner.store.store import Store
from tests import pg
from tests.storesql import sql

ROOT = Path(__file__).resolve().parents[3]
TABLES = {"alembic_version", "jobs", "runs", "task_runs", "attempts", "events", "heartbeats"}


@pytest.fixture
def raw(db_url: str) -> Iterator[Database]:
    """A bare connection to the database, for what the store's API cannot do."""
    db = Database(parse_url(db_url))
    yield db
    db.close()


def revision(db: Database) -> str | None:
    return db.scalar("SELECT version_num FROM alembic_version")  # type: ignore[no-any-return]


def test_the_head_constant_matches_the_migration_scripts() -> None:
    scripts = ScriptDirectory(str(Path(migrate.__file__).with_name("migrations")))

    assert scripts.get_current_head() == migrate.HEAD
    walked = [s.revision for s in scripts.walk_revisions()]
    assert tuple(reversed(walked)) == migrate.REVISIONS


def test_a_fresh_database_is_created_at_head(db_url: str, raw: Database) -> None:
    with Store.open(db_url):
        pass

    assert revision(raw) == migrate.HEAD
    assert all(raw.table_exists(t) for t in TABLES)


def test_the_migrated_schema_matches_the_table_definitions(db_url: str) -> None:
    with Store.open(db_url):
        pass
    engine = create_engine(sqlalchemy_url(parse_url(db_url)), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            differences = compare_metadata(context, metadata)
    finally:
        engine.dispose()

    assert differences == []


def test_a_database_at_an_old_schema_is_upgraded_on_open_and_keeps_its_data(
    db_url: str, raw: Database
) -> None:
    migrate.upgrade(db_url, "0001")
    assert revision(raw) == "0001"
    assert not raw.table_exists("heartbeats")
    raw.execute(
        "INSERT INTO runs (job, logical_time, trigger, state, params, queued_at, started_at, "
        "finished_at) VALUES ('old', 1700000000.5, 'schedule', 'success', '{}', 1700000000.5, "
        "1700000001.0, 1700000002.25)"
    )
    run_id = raw.scalar("SELECT id FROM runs")

    with Store.open(db_url) as store:
        run = store.get_run(run_id)
        assert (run.job, run.duration_seconds) == ("old", 1.25)
        assert revision(raw) == migrate.HEAD
        store.heartbeat("scheduler", run.queued_at)
        assert raw.scalar("SELECT span_id FROM attempts") is None


def test_an_old_schema_is_not_migrated_when_migrate_is_false(db_url: str, raw: Database) -> None:
    migrate.upgrade(db_url, "0001")

    expected = f"at schema 0001, this runwatch needs {migrate.HEAD}: run `runwatch db upgrade`"
    with pytest.raises(StoreError, match=expected):
        Store.open(db_url, migrate=False)

    assert revision(raw) == "0001"


def test_an_empty_database_is_not_created_when_migrate_is_false(db_url: str, raw: Database) -> None:
    with pytest.raises(StoreError, match=r"at schema none, .* run `runwatch db upgrade`"):
        Store.open(db_url, migrate=False)

    assert not raw.table_exists("runs")


@pytest.mark.parametrize("migrate_flag", [True, False])
def test_a_database_newer_than_this_runwatch_is_refused(
    db_url: str, raw: Database, migrate_flag: bool
) -> None:
    with Store.open(db_url):
        pass
    raw.execute("UPDATE alembic_version SET version_num = '9999'")

    with pytest.raises(StoreError) as caught:
        Store.open(db_url, migrate=migrate_flag)

    message = str(caught.value)
    assert f"is at schema 9999, newer than this runwatch (schema {migrate.HEAD})" in message
    assert message.endswith(": upgrade runwatch")
    assert revision(raw) == "9999"


def test_a_failed_migration_leaves_the_schema_as_it_was(db_url: str, raw: Database) -> None:
    migrate.upgrade(db_url, "0001")
    # 0002 creates `heartbeats`, then adds `attempts.span_id`: make that second step fail.
    raw.execute("ALTER TABLE attempts ADD COLUMN span_id VARCHAR(16)")

    with pytest.raises(StoreError, match=r"cannot migrate database .* to head"):
        Store.open(db_url)

    assert revision(raw) == "0001"
    assert not raw.table_exists("heartbeats")


def test_processes_opening_a_fresh_database_together_migrate_it_once(
    db_url: str, raw: Database, tmp_path: Path
) -> None:
    go = tmp_path / "go"
    code = (
        "import os, sys, time\n"
        "from runner.store.store import Store\n"
        "print('ready', flush=True)\n"
        "while not os.path.exists(sys.argv[2]): time.sleep(0.001)\n"
        "Store.open(sys.argv[1]).close()\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    openers = [
        subprocess.Popen(
            [sys.executable, "-c", code, db_url, str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(3)
    ]
    for opener in openers:
        assert opener.stdout is not None
        assert opener.stdout.readline() == "ready\n"
    go.touch()

    results = [opener.communicate(timeout=60) for opener in openers]

    assert [o.returncode for o in openers] == [0, 0, 0], [err for _, err in results]
    assert raw.scalar("SELECT COUNT(*) FROM alembic_version") == 1
    assert revision(raw) == migrate.HEAD


def test_opening_an_up_to_date_store_imports_neither_alembic_nor_sqlalchemy(db_url: str) -> None:
    with Store.open(db_url):
        pass
    code = (
        "import sys\n"
        "from runner.store.store import Store\n"
        "Store.open(sys.argv[1]).close()\n"
        "heavy = {m.split('.')[0] for m in sys.modules} & {'alembic', 'sqlalchemy'}\n"
        "print(sorted(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, db_url],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
        timeout=60,
    )

    assert result.stdout.strip() == "[]"


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("these are not the tables you are looking for\n" * 100)

    with pytest.raises(
        StoreError, match=r"cannot open database .*notes\.db: file is not a database"
    ):
        Store.open(f"sqlite:///{path}")


@pytest.mark.postgresql
def test_postgresql_url_options_put_every_table_in_the_chosen_schema() -> None:
    with pg.temporary_schema() as url, Store.open(url) as store:
        schema = sql(store).scalar("SELECT current_schema()")
        assert schema.startswith("rw_test_")
        # Other schemas of this database belong to other runs; the migration created each
        # table once, so finding them all in ours means none went anywhere else.
        tables = sql(store).rows(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_name IN ('alembic_version', 'runs', 'heartbeats') "
            "AND table_schema = :schema",
            {"schema": schema},
        )
        assert {(r["table_schema"], r["table_name"]) for r in tables} == {
            (schema, "alembic_version"),
            (schema, "runs"),
            (schema, "heartbeats"),
        }


# -- secrets never reach a message --------------------------------------------------

PASSWORD = "Tr0ub4dor-3-s3cret"


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql+psycopg://postgres:{PASSWORD}@127.0.0.1:1/test",
        f"postgresql://postgres:{PASSWORD}@127.0.0.1:notaport/test",
        f"postgresql://postgres@127.0.0.1:1/test?password={PASSWORD}",
        f"postgres://postgres:{PASSWORD}@127.0.0.1:1/test?sslmode=disable",
        f"postgresql://postgres:{PASSWORD}@bad@127.0.0.1:1/test",
        f"postgresql://postgres:{PASSWORD}/x@127.0.0.1:1/test",
        f"mysql://root:{PASSWORD}@127.0.0.1/test",
    ],
)
def test_store_errors_never_show_the_password(url: str) -> None:
    with pytest.raises(StoreError) as opening:
        Store.open(url)
    with pytest.raises(StoreError) as migrating:
        migrate.upgrade(url)

    for caught in (opening, migrating):
        message = str(caught.value)
        assert PASSWORD not in message
        assert "***" in message
        assert "s3cret" not in message
        assert "Tr0ub4dor" not in message


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:pw@h/db", "postgresql://u:***@h/db"),
        ("postgresql+psycopg://u:p@ss/w@h:5432/db?x=1", "postgresql+psycopg://u:***@h:5432/db?x=1"),
        ("postgresql://:pw@h/db", "postgresql://:***@h/db"),
        ("postgresql://u@h/db?password=pw&sslmode=require", "postgresql://u@h/db?***&sslmode=require"),
        ("postgresql://u@h:5432/db", "postgresql://u@h:5432/db"),
        ("sqlite:////var/lib/runwatch.db", "sqlite:////var/lib/runwatch.db"),
    ],
)  # fmt: skip
def test_redact_url_hides_passwords_only(url: str, shown: str) -> None:
    assert redact_url(url).replace("password=***", "***") == shown


@pytest.mark.parametrize(
    ("url", "path"),
    [("sqlite:///relative/rw.db", "relative/rw.db"), ("sqlite:////abs/rw.db", "/abs/rw.db")],
)
def test_sqlite_urls_read_paths_as_sqlalchemy_does(url: str, path: str) -> None:
    assert parse_url(url).path == path


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("sqlite://", "expected sqlite:///PATH"),
        ("sqlite:///:memory:", "a file path is required"),
        ("redis://localhost", "unsupported scheme 'redis'"),
        ("runwatch.db", "unsupported scheme ''"),
    ],
)
def test_unusable_urls_are_refused_with_the_reason(url: str, problem: str) -> None:
    with pytest.raises(StoreError, match=problem):
        parse_url(url)
