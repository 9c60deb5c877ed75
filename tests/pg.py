"""Throwaway PostgreSQL schemas for tests, on the server named by ``RUNWATCH_TEST_PG_URL``.

Each test gets a schema of its own (``rw_test_<random>``), reached through a URL whose
``options=-csearch_path%3D…`` makes it the connection's current schema, so runwatch's
tables and Alembic's ``alembic_version`` are created in it. The schema is dropped after
the test, after ending any connection a test left open in it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

import psycopg
import pytest

BASE_URL = os.environ.get(
    "RUNWATCH_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def conninfo(url: str = BASE_URL) -> str:
    """The URL as psycopg reads it."""
    return "postgresql://" + url.split("://", 1)[1]


def connect() -> Any:
    """An autocommit psycopg connection to the test database (outside any test schema)."""
    return psycopg.connect(conninfo(), autocommit=True, connect_timeout=3)


@cache
def unavailable_reason() -> str | None:
    """Why PostgreSQL cannot be used for tests, or None when it can."""
    try:
        with connect() as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"PostgreSQL at {BASE_URL} is unreachable: {str(exc).strip()}"
    return None


def require() -> None:
    """Skip the test when PostgreSQL is unreachable; fail it instead on CI."""
    reason = unavailable_reason()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set: PostgreSQL tests must run)", pytrace=False)
    pytest.skip(reason)


def url_for(schema: str, url: str = BASE_URL) -> str:
    """A URL whose connections use ``schema`` and are tagged with its name."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}&application_name={schema}"


@contextmanager
def temporary_schema() -> Iterator[str]:
    """Create a fresh schema, yield a URL that uses it, then drop it."""
    require()
    schema = f"rw_test_{secrets.token_hex(6)}"
    with connect() as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield url_for(schema)
    finally:
        drop_schema(schema)


def drop_schema(schema: str) -> None:
    """Drop a test schema, ending the connections a test left open in it first."""
    with connect() as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = %s AND pid <> pg_backend_pid()",
            (schema,),
        )
        conn.execute("SET lock_timeout = '20s'")
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
