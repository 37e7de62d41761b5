"""Quick replies: stored, listed, removed, expanded in an agent's reply and counted when used."""

from collections.abc import Sequence
from uuid import UUID

import asyncpg

from router.quick_replies import Clash, Expansion, QuickReply, expand, find_clash, leading_name
from services.postgres import Connection

_COLUMNS = "id, shortcut, synonyms, text, created_at, use_count, last_used_at"


def _quick_reply(row: asyncpg.Record) -> QuickReply:
    return QuickReply(row["id"], row["shortcut"], tuple(row["synonyms"]), row["text"])


async def create_quick_reply(
    conn: Connection, shortcut: str, synonyms: Sequence[str], text: str
) -> asyncpg.Record | Clash:
    """Store a quick reply, or say which existing one a name clashes with. Run it in a transaction.

    The clash rule is Python's, so creations take turns under a transaction-scoped advisory lock: two
    confusable names created at once cannot both pass. Uses and reads do not take it.
    """
    await conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('quick_replies', 0))")
    existing = [_quick_reply(row) for row in await conn.fetch(f"SELECT {_COLUMNS} FROM quick_replies")]
    clash = find_clash([shortcut, *synonyms], existing)
    if clash is not None:
        return clash
    row = await conn.fetchrow(
        f"INSERT INTO quick_replies (shortcut, synonyms, text) VALUES ($1, $2, $3) RETURNING {_COLUMNS}",
        shortcut,
        list(synonyms),
        text,
    )
    assert row is not None
    return row


async def list_quick_replies(conn: Connection) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT {_COLUMNS} FROM quick_replies ORDER BY shortcut")


async def delete_quick_reply(conn: Connection, quick_reply_id: UUID) -> bool:
    """Remove a quick reply; False when there was none with this id."""
    deleted = await conn.fetchval("DELETE FROM quick_replies WHERE id = $1 RETURNING id", quick_reply_id)
    return deleted is not None


async def expand_reply(conn: Connection, conversation_id: UUID, agent_id: UUID, text: str) -> Expansion:
    """The agent's reply as the customer will get it (router/quick_replies.py says how).

    A reply that does not start with something shaped like a shortcut costs no query.
    """
    name = leading_name(text)
    if name is None:
        return Expansion(text, ())
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM quick_replies WHERE shortcut = $1 OR synonyms @> ARRAY[$1::text]", name
    )
    if not rows:
        return Expansion(text, ())
    names = await conn.fetchrow(
        """SELECT (SELECT name FROM agents WHERE id = $2) AS agent_name,
                  (SELECT p.display_name FROM conversations c JOIN contacts p ON p.id = c.contact_id
                    WHERE c.id = $1) AS customer_name""",
        conversation_id,
        agent_id,
    )
    assert names is not None
    context = {key: value for key, value in dict(names).items() if value}
    return expand(text, [_quick_reply(row) for row in rows], context)
