"""The database's functions, each defined by one file of `services/sql/`, applied on start when its text changed.

A migration changes the schema once and stays as it ran; a function is code, edited in place. So each
PL/pgSQL function has one file, named after it (`store_inbound_messages.sql`), holding its whole definition,
and `services.postgres.migrate` applies every file whose text differs from the one last applied (a
repeatable step, as Flyway's `R__` migrations), after the migrations and under their lock. Applying a file
replaces every version of its function's name (each overload is dropped, then the file runs, in one
transaction), so a changed signature needs nothing more than the edited file, and no stale overload is left
behind. A caller waits on that transaction's lock for a moment; no call sees the function missing.

The checksums applied are kept in the `sql_functions` table (migration 0022).
"""

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

SQL_FUNCTIONS = Path(__file__).with_name("sql")


class SqlFunctionError(Exception):
    """A file of `services/sql/` that does not define the one function it is named after."""


@dataclass(frozen=True)
class FunctionFile:
    """One function's definition: the file's stem is the function's name."""

    name: str
    text: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()


# `CREATE FUNCTION name(` or `CREATE OR REPLACE FUNCTION name(`, at the start of a line.
_DEFINES = re.compile(r"^CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+(\w+)\s*\(", re.IGNORECASE | re.MULTILINE)


def read_function_files(directory: Path = SQL_FUNCTIONS) -> list[FunctionFile]:
    """Every function file of `directory`, by name; each must define exactly the function it is named after."""
    files = []
    for path in sorted(directory.glob("*.sql")):
        text = path.read_text()
        defined = _DEFINES.findall(text)
        if defined != [path.stem]:
            raise SqlFunctionError(f"{path} must define one function, {path.stem}; it defines {defined or 'none'}")
        files.append(FunctionFile(path.stem, text))
    return files


def stale(files: Iterable[FunctionFile], applied: Mapping[str, str]) -> list[FunctionFile]:
    """The files whose text is not the one last applied (`applied`: name -> checksum)."""
    return [f for f in files if applied.get(f.name) != f.checksum]


class _Cursor(Protocol):
    def execute(self, query: str, params: tuple[str, ...] = ..., /) -> object: ...
    def fetchall(self) -> list[tuple[str, ...]]: ...


class _Backend(Protocol):
    """What this module needs of yoyo's backend (a psycopg connection under yoyo's migration lock)."""

    def cursor(self) -> _Cursor: ...
    def transaction(self) -> "_Transaction": ...


class _Transaction(Protocol):
    def __enter__(self) -> object: ...
    def __exit__(self, *exc: object) -> None: ...


_OVERLOADS = """
SELECT p.oid::regprocedure::text FROM pg_proc p
 WHERE p.proname = %s AND p.pronamespace = current_schema()::regnamespace
"""
_RECORD = """
INSERT INTO sql_functions (name, checksum) VALUES (%s, %s)
ON CONFLICT (name) DO UPDATE SET checksum = excluded.checksum, applied_at = now()
"""


def apply(backend: _Backend, files: list[FunctionFile] | None = None) -> list[str]:
    """Apply the stale function files, each in its own transaction; the names applied, in order."""
    files = read_function_files() if files is None else files
    with backend.transaction():
        cursor = backend.cursor()
        cursor.execute("SELECT name, checksum FROM sql_functions")
        applied = {name: checksum for name, checksum in cursor.fetchall()}
    names = []
    for function in stale(files, applied):
        with backend.transaction():
            cursor = backend.cursor()
            cursor.execute(_OVERLOADS, (function.name,))
            for (signature,) in cursor.fetchall():
                cursor.execute(f"DROP FUNCTION {signature}")  # regprocedure's text is quoted as needed
            cursor.execute(function.text)
            cursor.execute(_RECORD, (function.name, function.checksum))
        names.append(function.name)
    return names
