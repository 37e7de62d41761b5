"""Channel accounts in the database: the configured ones, and any a message arrived on unannounced."""

import asyncpg

from services.accounts import ChannelAccount
from services.postgres import Connection


async def ensure_account(conn: Connection, account: ChannelAccount) -> None:
    """Record an account so messages can refer to it; a configured name replaces a placeholder."""
    await conn.execute(
        """INSERT INTO accounts (id, channel, external_id, name) VALUES ($1, $2, $3, $4)
           ON CONFLICT (id) DO UPDATE SET name = excluded.name""",
        account.id,
        account.channel,
        account.external_id,
        account.name,
    )


async def list_accounts(conn: Connection) -> list[asyncpg.Record]:
    return await conn.fetch("SELECT id, channel, external_id, name FROM accounts ORDER BY channel, external_id")
