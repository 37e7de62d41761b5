"""services/sql_functions.py's decisions: which files define which function, and which are stale."""

from pathlib import Path

import pytest

from services.sql_functions import SQL_FUNCTIONS, FunctionFile, SqlFunctionError, read_function_files, stale

DEFINITION = "CREATE FUNCTION {name}(p integer) RETURNS integer LANGUAGE sql AS $$ SELECT p $$;\n"


def test_the_shipped_files_each_define_the_function_they_are_named_after() -> None:
    names = [f.name for f in read_function_files()]
    assert names == ["assign_first_available", "store_inbound_message", "store_inbound_messages"]
    assert all((SQL_FUNCTIONS / f"{name}.sql").is_file() for name in names)


def test_no_migration_defines_a_function_any_more() -> None:
    migrations = (SQL_FUNCTIONS.parent / "migrations").glob("*.sql")
    assert not [m.name for m in migrations if "CREATE FUNCTION" in m.read_text().upper()]


def test_a_file_defining_another_name_is_refused(tmp_path: Path) -> None:
    (tmp_path / "wanted.sql").write_text(DEFINITION.format(name="other"))
    with pytest.raises(SqlFunctionError, match="wanted"):
        read_function_files(tmp_path)


def test_a_file_defining_two_functions_is_refused(tmp_path: Path) -> None:
    (tmp_path / "twice.sql").write_text(DEFINITION.format(name="twice") + DEFINITION.format(name="twice"))
    with pytest.raises(SqlFunctionError, match="twice"):
        read_function_files(tmp_path)


def test_create_or_replace_counts_as_a_definition(tmp_path: Path) -> None:
    definition = "-- why\nCREATE OR REPLACE FUNCTION kept() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;"
    (tmp_path / "kept.sql").write_text(definition)
    assert [f.name for f in read_function_files(tmp_path)] == ["kept"]


def test_stale_is_every_file_whose_text_was_not_the_last_applied() -> None:
    first, second, third = (FunctionFile(n, DEFINITION.format(name=n)) for n in ("first", "second", "third"))
    applied = {"first": first.checksum, "second": "an older text's checksum"}
    assert stale([first, second, third], applied) == [second, third]
    assert stale([first], applied) == []
