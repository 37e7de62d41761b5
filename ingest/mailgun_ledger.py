"""Mailgun's replay ledger in PostgreSQL: the tokens of accepted signatures, shared by every ingest process.

A token is claimed by one statement (one round trip): an insert that succeeds when the token is new or its
previous use has expired, and that also deletes a couple of expired tokens, so the table never holds
much more than the tokens still within the freshness window. A ledger that does not answer within its
timeout is an outage of ours: the webhook gets 503 and Mailgun retries, rather than a replay getting in.
"""

import asyncio
from datetime import UTC, datetime

import asyncpg

from ingest.errors import LedgerUnavailable
from services.postgres import Pool, create_pool

_CLAIM = """
WITH purged AS (
    DELETE FROM mailgun_tokens
     WHERE token IN (SELECT token FROM mailgun_tokens
                      WHERE expires_at < now() AND token <> $1
                      ORDER BY expires_at LIMIT 2 FOR UPDATE SKIP LOCKED)
)
INSERT INTO mailgun_tokens (token, expires_at) VALUES ($1, $2)
ON CONFLICT (token) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE mailgun_tokens.expires_at < now()
RETURNING true
"""


class PostgresTokenLedger:
    """`first_use` against the `mailgun_tokens` table (migration 0016), through a pool of its own.

    The pool opens connections when first needed, so ingest starts, and serves every other channel,
    while PostgreSQL is down.
    """

    def __init__(self, dsn: str, timeout_s: float, pool_size: int = 4) -> None:
        self._dsn = dsn
        self._timeout_s = timeout_s
        self._pool_size = pool_size
        self._pool: Pool | None = None

    async def start(self) -> None:
        """Create the (empty) pool; no connection is made yet."""
        # services.postgres's pool: no reset round trip on every release (four statements per Mailgun webhook).
        self._pool = await create_pool(self._dsn, min_size=0, max_size=self._pool_size)

    async def close(self) -> None:
        """Close the pool, if started."""
        if self._pool is not None:
            await self._pool.close()

    async def first_use(self, token: str, expires_at: float) -> bool:
        """Record `token` until `expires_at` (Unix seconds); False when it is already recorded and unexpired."""
        if self._pool is None:
            raise LedgerUnavailable("the replay ledger is not started")
        try:
            async with asyncio.timeout(self._timeout_s), self._pool.acquire() as conn:
                claimed = await conn.fetchval(_CLAIM, token, datetime.fromtimestamp(expires_at, tz=UTC))
        except (
            OSError,
            TimeoutError,
            asyncpg.PostgresError,
            asyncpg.InterfaceError,
            asyncpg.InternalClientError,
        ) as error:
            raise LedgerUnavailable(f"the replay ledger did not answer: {error!r}") from error
        return bool(claimed)
