"""The harness's own calls to the stack, surviving the outages it measures.

A PostgreSQL restart closes the harness's connection too, and a killed service refuses its metrics for a
second: the harness must count what was lost, not crash on its own closed connection. Every query
reconnects and retries on a connection error, every HTTP read retries, both within a deadline.
"""

import asyncio
import contextlib
import time
from typing import Any

import asyncpg
import httpx

RETRY_EVERY_S = 0.5
# asyncpg raises these when the server goes away or refuses connections while it starts or stops.
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
)


class Database:
    """One PostgreSQL connection that reconnects: `fetch`, `fetchrow`, `fetchval` and `execute` retry a
    statement on a connection error until `retry_for_s` has passed, then raise the last error."""

    def __init__(self, dsn: str, retry_for_s: float = 120.0) -> None:
        self._dsn = dsn
        self._retry_for_s = retry_for_s
        self._conn: asyncpg.Connection | None = None

    async def __aenter__(self) -> "Database":
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connection if one is open."""
        if self._conn is not None:
            with contextlib.suppress(*CONNECTION_ERRORS):
                await self._conn.close(timeout=5)
            self._conn = None

    async def backend_pid(self) -> int:
        """The PID of this connection's PostgreSQL backend (the harness's CPU is counted apart from the stack's)."""
        return int(await self.fetchval("SELECT pg_backend_pid()"))

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        """Rows of one statement."""
        rows: list[asyncpg.Record] = await self._retrying("fetch", query, args)
        return rows

    async def fetchrow(self, query: str, *args: Any) -> asyncpg.Record | None:
        """The first row of one statement."""
        row: asyncpg.Record | None = await self._retrying("fetchrow", query, args)
        return row

    async def fetchval(self, query: str, *args: Any) -> Any:
        """The first value of the first row of one statement."""
        return await self._retrying("fetchval", query, args)

    async def execute(self, query: str, *args: Any) -> str:
        """Run one statement; its status tag."""
        status: str = await self._retrying("execute", query, args)
        return status

    async def _retrying(self, method: str, query: str, args: tuple[Any, ...]) -> Any:
        deadline = time.monotonic() + self._retry_for_s
        while True:
            try:
                if self._conn is None or self._conn.is_closed():
                    self._conn = await asyncpg.connect(self._dsn, timeout=5)
                return await getattr(self._conn, method)(query, *args, timeout=30)
            except CONNECTION_ERRORS:
                await self.close()
                if time.monotonic() >= deadline:
                    raise
                await asyncio.sleep(RETRY_EVERY_S)


async def get(http: httpx.AsyncClient, url: str, retry_for_s: float = 10.0, **kwargs: Any) -> httpx.Response:
    """GET `url`, retrying connection errors and 5xx answers until `retry_for_s` has passed; the last
    answer (or error) then stands."""
    return await send(http, "GET", url, retry_for_s, **kwargs)


async def send(
    http: httpx.AsyncClient, method: str, url: str, retry_for_s: float = 10.0, **kwargs: Any
) -> httpx.Response:
    """An idempotent request (a read, a PUT of a state, a DELETE) retried like `get`."""
    deadline = time.monotonic() + retry_for_s
    while True:
        try:
            response = await http.request(method, url, **kwargs)
            if response.status_code < 500 or time.monotonic() >= deadline:
                return response
        except httpx.TransportError:
            if time.monotonic() >= deadline:
                raise
        await asyncio.sleep(RETRY_EVERY_S)
