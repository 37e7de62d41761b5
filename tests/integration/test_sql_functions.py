"""services/sql_functions.py on a real PostgreSQL: each function file applied once per change, replacing
every version of its name, after the migrations of a new database and of one migrated before the files."""

import secrets
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from yoyo import get_backend

from services import sql_functions
from services.postgres import migrate
from services.sql_functions import FunctionFile
from tests.integration.conftest import SERVER_DSN


@pytest.fixture
def fresh_dsn(infrastructure: None) -> Iterator[str]:
    """A new, empty database of its own (not the session's: these tests drop and create functions)."""
    database = f"switchboard_sqlfn_{secrets.token_hex(4)}"
    with psycopg.connect(SERVER_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    yield SERVER_DSN.rsplit("/", 1)[0] + f"/{database}"
    with psycopg.connect(SERVER_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def _functions(dsn: str) -> list[str]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT p.oid::regprocedure::text FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang"
            " WHERE p.pronamespace = 'public'::regnamespace AND l.lanname = 'plpgsql' ORDER BY 1"
        ).fetchall()
    return [name for (name,) in rows]


def _backend(dsn: str) -> Any:
    return get_backend(dsn.replace("postgresql://", "postgresql+psycopg://", 1))


def test_a_new_database_gets_each_shipped_function_once_and_a_second_start_applies_nothing(fresh_dsn: str) -> None:
    migrate(fresh_dsn)
    names = sorted(f.split("(")[0] for f in _functions(fresh_dsn))
    assert names == ["assign_first_available", "store_inbound_message", "store_inbound_messages"]
    backend = _backend(fresh_dsn)
    try:
        assert sql_functions.apply(backend) == []
    finally:
        backend.connection.close()


def test_a_changed_signature_replaces_the_old_version_and_an_unchanged_file_is_not_applied(fresh_dsn: str) -> None:
    migrate(fresh_dsn)
    first = FunctionFile(
        "probe_fn", "CREATE FUNCTION probe_fn(a integer) RETURNS integer LANGUAGE sql AS $$ SELECT a $$;"
    )
    second = FunctionFile(
        "probe_fn", "CREATE FUNCTION probe_fn(a integer, b text) RETURNS text LANGUAGE sql AS $$ SELECT b || a $$;"
    )
    backend = _backend(fresh_dsn)
    try:
        assert sql_functions.apply(backend, [first]) == ["probe_fn"]
        assert sql_functions.apply(backend, [first]) == []
        assert sql_functions.apply(backend, [second]) == ["probe_fn"]
    finally:
        backend.connection.close()
    with psycopg.connect(fresh_dsn) as conn:
        versions = conn.execute("SELECT oid::regprocedure::text FROM pg_proc WHERE proname = 'probe_fn'").fetchall()
        assert versions == [("probe_fn(integer,text)",)]
        assert conn.execute("SELECT probe_fn(7, 'x')").fetchone() == ("x7",)


def test_a_database_migrated_before_the_files_loses_its_stale_overloads(fresh_dsn: str) -> None:
    """As a database migrated by the old migrations was: the functions there, an 11-argument
    store_inbound_message left by 0002 beside the current one, and no checksum recorded."""
    migrate(fresh_dsn)
    with psycopg.connect(fresh_dsn) as conn:
        conn.execute(
            "CREATE FUNCTION store_inbound_message(text, text, text, uuid, text, text, text, jsonb, text,"
            " timestamptz, timestamptz) RETURNS integer LANGUAGE sql AS $$ SELECT 1 $$"
        )
        conn.execute("DELETE FROM sql_functions")
    migrate(fresh_dsn)
    with psycopg.connect(fresh_dsn) as conn:
        versions = conn.execute("SELECT pronargs FROM pg_proc WHERE proname = 'store_inbound_message'").fetchall()
        recorded = conn.execute("SELECT count(*) FROM sql_functions").fetchone()
    assert versions == [(16,)]
    assert recorded == (3,)
