"""Conversations as agents and admins see them: lists, history, replies, resolution."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

import asyncpg

from router.assignment import AgentLoad
from router.store.queue import agent_load, agent_load_columns
from schemas.outbound import OutboundMessage
from services.postgres import Connection

CONVERSATION_COLUMNS = """c.id, c.contact_id, c.channel, c.status, c.assignee_id, c.priority, c.received_at,
    c.waiting_since, c.last_inbound_at, c.assigned_at, c.resolved_at, c.created_at,
    a.external_id AS account_external_id"""

# What the history shows of a message (router/views.py MessageView), customers', agents' and notes alike.
MESSAGE_COLUMNS = """m.id, m.conversation_id, m.direction, m.channel, m.external_id, m.provider_message_id,
    m.author_agent_id, m.content_type, m.text, m.attachments, m.sent_at, m.received_at, m.created_at,
    m.delivery_status, m.delivery_error"""


@dataclass(frozen=True)
class Resolution:
    """A conversation closed; `freed_agent` is the agent whose capacity it returned, if any, as the closing
    statement left them (the queue's drain starts from it instead of reading the agent again)."""

    conversation: asyncpg.Record
    freed_agent: AgentLoad | None

    @property
    def freed_agent_id(self) -> UUID | None:
        return None if self.freed_agent is None else self.freed_agent.agent_id


async def agent_conversations(conn: Connection, agent_id: UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {CONVERSATION_COLUMNS} FROM conversations c JOIN accounts a ON a.id = c.account_id
             WHERE c.assignee_id = $1 AND c.status = 'assigned' ORDER BY c.assigned_at, c.id""",
        agent_id,
    )


async def search_conversations(
    conn: Connection, status: str | None, channel: str | None, external_id: str | None, limit: int
) -> list[asyncpg.Record]:
    """Conversations matching every given filter, newest first."""
    return await conn.fetch(
        f"""SELECT {CONVERSATION_COLUMNS} FROM conversations c JOIN accounts a ON a.id = c.account_id
             WHERE ($1::text IS NULL OR c.status = $1)
               AND ($2::text IS NULL OR c.channel = $2)
               AND ($3::text IS NULL OR EXISTS (
                     SELECT 1 FROM contact_identities i
                      WHERE i.contact_id = c.contact_id AND i.external_id = $3
                        AND ($2::text IS NULL OR i.channel = $2)))
             ORDER BY c.created_at DESC, c.id LIMIT $4""",
        status,
        channel,
        external_id,
        limit,
    )


async def get_conversation(conn: Connection, conversation_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""SELECT {CONVERSATION_COLUMNS} FROM conversations c JOIN accounts a ON a.id = c.account_id
             WHERE c.id = $1""",
        conversation_id,
    )


async def contact_with_identities(conn: Connection, contact_id: UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT c.id, c.display_name, c.created_at,
                  coalesce(jsonb_agg(jsonb_build_object('channel', i.channel, 'external_id', i.external_id)
                           ORDER BY i.created_at) FILTER (WHERE i.channel IS NOT NULL), '[]') AS identities
             FROM contacts c LEFT JOIN contact_identities i ON i.contact_id = c.id
            WHERE c.id = $1 GROUP BY c.id""",
        contact_id,
    )


async def history(conn: Connection, contact_id: UUID) -> list[asyncpg.Record]:
    """Every message with this contact, across channels and conversations, oldest first."""
    return await conn.fetch(
        f"""SELECT {MESSAGE_COLUMNS}
             FROM messages m JOIN conversations c ON c.id = m.conversation_id
            -- Our own clock orders the history: provider timestamps are whole seconds.
            WHERE c.contact_id = $1 ORDER BY coalesce(m.received_at, m.created_at), m.id""",
        contact_id,
    )


# A reply goes to where the customer last wrote from: their last message's channel, account and id. These
# two fragments are shared by every statement that stores a reply (the agent's here, the bot's and the
# away/greeting messages in router/store/automation.py); `$1` is the conversation.
LAST_INBOUND = """last_inbound AS (
    SELECT m.channel, m.account_id, m.external_id, m.sent_at, m.channel_data FROM messages m
     WHERE m.conversation_id = $1 AND m.direction = 'inbound'
     ORDER BY m.sent_at DESC, m.created_at DESC LIMIT 1)"""
REPLY_INSERTED = "RETURNING id, conversation_id, channel, account_id, external_id, text, created_at"


def queued_reply(topic_param: str, author: Literal["agent", "bot"], selected: str = "*") -> str:
    """The end of a statement whose `reply` CTE inserted a reply (`INSERT ... REPLY_INSERTED`) after its
    `last_inbound` CTE found the customer's last message: the reply's outbound record goes to the outbox in
    the same statement, and the statement selects what `outbound_of` reads (`selected` of `replied`, to add
    what other CTEs did).

    One statement instead of an insert, an outbox insert and a transaction around them: four round trips
    fewer per bot answer, none of them made while the conversation's row is locked. The record is the JSON
    of schemas/outbound.py's OutboundMessage, built here; tests/integration/test_outbox.py decodes it with
    the schema and compares it with `outbound_of`'s model of the same row.
    """
    return f"""replied AS (
        SELECT r.id, r.conversation_id, r.channel, r.external_id, r.text, r.created_at,
               a.external_id AS account_external_id, l.sent_at AS customer_last_message_at,
               coalesce(l.channel_data, '{{}}'::jsonb) AS reply_context
          FROM reply r JOIN accounts a ON a.id = r.account_id LEFT JOIN last_inbound l ON true),
    queued AS (
        INSERT INTO outbox (topic, key, value)
        SELECT {topic_param}, convert_to(x.conversation_id::text, 'UTF8'),
               convert_to(jsonb_build_object(
                   'type', 'outbound_message', 'message_id', x.id, 'conversation_id', x.conversation_id,
                   'channel', x.channel, 'account_external_id', x.account_external_id,
                   'recipient_external_id', x.external_id, 'text', x.text, 'author', '{author}',
                   'created_at', x.created_at, 'customer_last_message_at', x.customer_last_message_at,
                   'reply_to_provider_message_id', NULL, 'reply_context', x.reply_context)::text, 'UTF8')
          FROM replied x)
    SELECT {selected} FROM replied"""


def outbound_of(
    row: asyncpg.Record, conversation_id: UUID, text: str, author: Literal["agent", "bot"]
) -> OutboundMessage:
    """The dispatcher's view of a reply a `queued_reply` statement stored."""
    return OutboundMessage(
        message_id=row["id"],
        conversation_id=conversation_id,
        channel=row["channel"],
        account_external_id=row["account_external_id"],
        recipient_external_id=row["external_id"],
        text=text,
        author=author,
        created_at=row["created_at"],
        customer_last_message_at=row["customer_last_message_at"],
        reply_context=row["reply_context"],
    )


@dataclass(frozen=True)
class PostedReply:
    """An agent's reply stored and queued for sending; `freed_agent` is set when it also resolved (as for
    `Resolution`)."""

    outbound: OutboundMessage
    resolved: bool
    freed_agent: AgentLoad | None

    @property
    def freed_agent_id(self) -> UUID | None:
        return None if self.freed_agent is None else self.freed_agent.agent_id


@dataclass(frozen=True)
class ReplyKey:
    """The agent's Idempotency-Key for a reply, with the digest of the request it came with."""

    key: str
    request_sha256: bytes


def _closing(locked: str, condition: str) -> str:
    """CTEs closing the conversation whose row the CTE `locked` holds FOR UPDATE (id, status, assignee_id) when
    `condition` holds, and freeing its assignee's slot: the conversation is locked before the agent, the same
    order as everywhere else."""
    return f"""closed AS (
                UPDATE conversations c SET status = 'resolved', resolved_at = now()
                  FROM {locked} b
                 WHERE c.id = b.id AND {condition}
             RETURNING c.*, b.status AS previous),
            freed AS (
                UPDATE agents a SET pending = a.pending - 1
                  FROM closed WHERE a.id = closed.assignee_id AND closed.previous = 'assigned'
             RETURNING {agent_load_columns("a")})"""


# What `post_reply` selects beside the reply: whether it resolved, and whose slot that freed.
_WITH_RESOLUTION = "*, EXISTS (SELECT 1 FROM closed) AS resolved, (SELECT freed FROM freed) AS freed"


async def post_reply(
    conn: Connection,
    conversation_id: UUID,
    agent_id: UUID,
    text: str,
    topic: str,
    *,
    message_id: UUID,
    key: ReplyKey | None,
    resolve: bool,
    quick_replies: Sequence[UUID] = (),
) -> PostedReply | None:
    """Store the assignee's reply as pending, addressed to where the customer last wrote from, with its
    outbound record in the outbox (`topic`), its Idempotency-Key, the quick replies it used counted and, if
    asked, the conversation resolved: one statement, so all of it commits or none, in one round trip and
    without a transaction left waiting on its client while it holds the conversation's and the agent's rows.

    None when nothing was stored: the agent does not hold the conversation (any more), or `key` is taken
    (`router.store.reply_keys.kept_reply` says by which reply). The conversation's row is locked first, so
    a resolve asked for cannot fail after the reply went in; a request with a key another one is storing
    waits for it on the key's primary key, then stores nothing. `message_id` is chosen by the caller so the
    key can name it before the message exists (the foreign key is checked at the statement's end).
    """
    row = await conn.fetchrow(
        f"""WITH held AS (
                SELECT id, status, assignee_id FROM conversations
                 WHERE id = $1 AND status = 'assigned' AND assignee_id = $2 FOR UPDATE),
           {LAST_INBOUND},
           taken AS (
               INSERT INTO reply_idempotency_keys (agent_id, key, conversation_id, request_sha256, message_id,
                                                   resolved)
               SELECT $2, $5, $1, $6, $7, $8 FROM held
                WHERE $5::text IS NOT NULL AND EXISTS (SELECT 1 FROM last_inbound)
               ON CONFLICT (agent_id, key) DO NOTHING RETURNING true),
           reply AS (
               INSERT INTO messages (id, conversation_id, direction, channel, account_id, external_id,
                                     author_agent_id, content_type, text, delivery_status)
               SELECT $7, $1, 'outbound', l.channel, l.account_id, l.external_id, $2, 'text', $3, 'pending'
                 FROM last_inbound l JOIN held ON true
                WHERE $5::text IS NULL OR EXISTS (SELECT 1 FROM taken)
               {REPLY_INSERTED}),
           {_closing("held", "$8 AND EXISTS (SELECT 1 FROM reply)")},
           used AS (
               UPDATE quick_replies SET use_count = use_count + 1, last_used_at = now()
                WHERE id = ANY($9::uuid[]) AND EXISTS (SELECT 1 FROM reply)),
           {queued_reply("$4", "agent", _WITH_RESOLUTION)}""",
        conversation_id,
        agent_id,
        text,
        topic,
        None if key is None else key.key,
        None if key is None else key.request_sha256,
        message_id,
        resolve,
        list(quick_replies),
    )
    if row is None:
        return None
    return PostedReply(outbound_of(row, conversation_id, text, "agent"), row["resolved"], _freed(row["freed"]))


async def resolve(conn: Connection, conversation_id: UUID, only_assignee: UUID | None) -> Resolution | None:
    """Close an open conversation (only if `only_assignee` holds it, when given) and free its agent's slot.

    One statement (`_closing`). None when there was nothing to close: unknown, already resolved, or not held
    by `only_assignee`.
    """
    row = await conn.fetchrow(
        f"""WITH before AS (
                SELECT id, status, assignee_id FROM conversations WHERE id = $1 FOR UPDATE),
            {_closing("before", "b.status <> 'resolved' AND ($2::uuid IS NULL OR b.assignee_id = $2)")}
            SELECT {CONVERSATION_COLUMNS}, (SELECT freed FROM freed) AS freed
              FROM closed c JOIN accounts a ON a.id = c.account_id""",
        conversation_id,
        only_assignee,
    )
    return None if row is None else Resolution(row, _freed(row["freed"]))


def _freed(values: Sequence[Any] | None) -> AgentLoad | None:
    """The `freed` CTE's whole row (`_closing`), when it freed a slot."""
    return None if values is None else agent_load(values)
