"""PostgreSQL plumbing: the connection pool, schema migrations (and the function files after them), and
transactions retried on conflict.

Errors from a transaction fall in two kinds: conflicts PostgreSQL resolves by aborting one side
(deadlock, serialization failure), which `in_transaction` retries, and everything else, which it raises.
"""

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import asyncpg
import orjson
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")
# The channel a writer of the `outbox` table notifies once it committed, so the relay (router/outbox.py)
# publishes without waiting for its poll; the router and the dispatcher both write the table.
OUTBOX_CHANNEL = "switchboard_outbox"
Result = TypeVar("Result")
# asyncpg's classes are generic only in its type stubs. A pooled connection is a proxy with the same
# interface as a connection; functions that run SQL accept either.
if TYPE_CHECKING:
    Pool = asyncpg.Pool[asyncpg.Record]
    Connection = asyncpg.Connection[asyncpg.Record] | asyncpg.pool.PoolConnectionProxy[asyncpg.Record]
else:
    Pool = asyncpg.Pool
    Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy

_CONFLICTS = (asyncpg.DeadlockDetectedError, asyncpg.SerializationError)


async def register_codecs(conn: Connection) -> None:
    """Decode jsonb to Python values and encode them back, on any connection."""
    await conn.set_type_codec(
        "jsonb", encoder=lambda v: orjson.dumps(v).decode(), decoder=orjson.loads, schema="pg_catalog"
    )


async def _keep_session(conn: Connection) -> None:
    """Skip asyncpg's reset on release (RESET ALL, UNLISTEN, unlock-all: a round trip per acquire):
    Switchboard keeps no session state, and its advisory locks are transaction-scoped."""


# A connect to a PostgreSQL that is down is refused at once; one to a host that does not answer must not hang
# for asyncpg's 60 s. Not shorter: SCRAM authentication on a loaded 2-core machine took over 5 s (load 19).
CONNECT_TIMEOUT_S = 15.0


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 10) -> Pool:
    """A pool whose connections decode jsonb to Python values.

    It recovers by itself from a PostgreSQL restart: a connection the server closed is seen closed on
    release and replaced on its next acquire; `Pool.expire_connections` replaces the idle ones too."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=register_codecs,
        reset=_keep_session,
        timeout=CONNECT_TIMEOUT_S,
    )
    assert pool is not None
    return pool


async def in_transaction(pool: Pool, work: Callable[[Connection], Awaitable[Result]]) -> Result:
    """Run `work` in one transaction, retrying it from the start when PostgreSQL aborts it on a conflict."""
    return await _retried_on_conflict(pool, work, transaction=True)


async def in_one_statement(pool: Pool, work: Callable[[Connection], Awaitable[Result]]) -> Result:
    """Run `work` outside a transaction block, for work whose writes are one statement (atomic on its own; reads
    before it need no snapshot shared with it): no BEGIN and COMMIT round trips; retried from the start when
    PostgreSQL aborts it on a conflict, as `in_transaction` is."""
    return await _retried_on_conflict(pool, work, transaction=False)


async def _retried_on_conflict(
    pool: Pool, work: Callable[[Connection], Awaitable[Result]], *, transaction: bool
) -> Result:
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(_CONFLICTS),
        stop=stop_after_attempt(8),
        wait=wait_random_exponential(multiplier=0.005, max=0.2),
        reraise=True,
    ):
        with attempt:
            async with pool.acquire() as conn:
                if not transaction:
                    return await work(conn)
                async with conn.transaction():
                    return await work(conn)
    raise AssertionError("unreachable: tenacity reraises the last error")


def migrate(dsn: str) -> None:
    """Apply pending migrations, then the function files whose text changed (services/sql_functions.py),
    under yoyo's lock, so concurrent start-ups apply each exactly once."""
    from yoyo import get_backend, read_migrations

    from services import sql_functions

    backend = get_backend(dsn.replace("postgresql://", "postgresql+psycopg://", 1))
    migrations = read_migrations(str(MIGRATIONS))
    try:
        with backend.lock():
            pending = backend.to_apply(migrations)
            if pending:
                log.info("applying %d migration(s)", len(pending))
            backend.apply_migrations(pending)
            applied = sql_functions.apply(backend)
            if applied:
                log.info("applied function file(s): %s", ", ".join(applied))
    finally:
        backend.connection.close()  # yoyo leaves it open; a process that migrates once need not keep it
