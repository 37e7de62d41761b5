"""Internal notes: written into a conversation's history for agents and admins, never sent to the customer.

A note is a message with direction 'note' and no delivery status. Nothing that sends reads it: a reply
is addressed from the customer's last *inbound* message, and only replies go to the outbound topic.
"""

from uuid import UUID

import asyncpg

from router.store.conversations import MESSAGE_COLUMNS
from services.postgres import Connection


async def add_note(
    conn: Connection, conversation_id: UUID, author_agent_id: UUID | None, text: str, *, only_assignee: bool
) -> asyncpg.Record | None:
    """Add a note by `author_agent_id` (None: an admin) to the conversation's history.

    With `only_assignee`, only while the author holds the conversation: the check and the insert are one
    statement, as for a reply. None when the note was not added (no such conversation, or not theirs).
    """
    # The channel, account and customer id of the conversation's last inbound message, so the note sits
    # in the history like the messages around it.
    return await conn.fetchrow(
        f"""WITH note AS (
                INSERT INTO messages (conversation_id, direction, channel, account_id, external_id,
                                      author_agent_id, content_type, text)
                SELECT c.id, 'note', l.channel, l.account_id, l.external_id, $2, 'text', $3
                  FROM conversations c
                  CROSS JOIN LATERAL (
                        SELECT m.channel, m.account_id, m.external_id FROM messages m
                         WHERE m.conversation_id = c.id AND m.direction = 'inbound'
                         ORDER BY m.sent_at DESC, m.created_at DESC LIMIT 1) l
                 WHERE c.id = $1 AND (NOT $4 OR (c.status = 'assigned' AND c.assignee_id = $2))
             RETURNING *)
            SELECT {MESSAGE_COLUMNS} FROM note m""",
        conversation_id,
        author_agent_id,
        text,
        only_assignee,
    )
