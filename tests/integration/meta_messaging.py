"""Posting Messenger and Instagram webhooks as Meta would, for the channels' integration tests."""

import itertools
from typing import Any

import asyncpg
import httpx

from sandbox.webhooks import signed_meta
from sandbox.webhooks.meta_messaging import MessagingChannel, messaging_text
from tests.integration.client import Switchboard
from tests.integration.conftest import APP_SECRET

_mids = itertools.count(1)


async def post(
    switchboard: Switchboard, channel: MessagingChannel, payload: dict[str, Any], *, secret: str = APP_SECRET
) -> httpx.Response:
    return await switchboard.post_signed(channel, signed_meta(payload, secret))


async def customer_writes(
    switchboard: Switchboard,
    channel: MessagingChannel,
    account_id: str,
    customer_id: str,
    text: str,
    *,
    mid: str | None = None,
    timestamp_ms: int | None = None,
) -> str:
    """The customer's message reaches ingest (200); returns its mid."""
    mid = mid or f"m_test{next(_mids):06d}{customer_id}"
    response = await post(
        switchboard, channel, messaging_text(channel, account_id, customer_id, mid, text, timestamp_ms=timestamp_ms)
    )
    assert response.status_code == 200, response.text
    return mid


async def stored(db: asyncpg.Connection, mid: str) -> int:
    return int(await db.fetchval("SELECT count(*) FROM messages WHERE provider_message_id = $1", mid))


async def reply_settled(db: asyncpg.Connection, message_id: str) -> asyncpg.Record | None:
    """The reply's row once the dispatcher is done with it (sent or failed), else None."""
    return await db.fetchrow(
        """SELECT provider_message_id, delivery_status, delivery_error FROM messages
            WHERE id = $1 AND delivery_status IN ('sent', 'delivered', 'read', 'failed')""",
        message_id,
    )
