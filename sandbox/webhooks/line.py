"""Signed LINE webhook deliveries, as the LINE Platform posts them (see ingest/channels/line.py).

LINE has no delivery or read receipts for ordinary chats, so message events are all there is to build.
"""

import secrets
import time
from typing import Any

import orjson

from ingest.channels.line import sign
from sandbox.webhooks import SignedWebhook


def line_text(
    destination: str,
    user_id: str,
    message_id: str,
    text: str,
    *,
    reply_token: str | None = None,
    timestamp_ms: int | None = None,
    redelivery: bool = False,
) -> dict[str, Any]:
    """One delivery carrying one text message event from a user in a 1:1 chat."""
    message = {"id": message_id, "type": "text", "text": text, "quoteToken": f"q{secrets.token_urlsafe(16)}"}
    return line_envelope(
        destination,
        [
            line_message_event(
                user_id, message, reply_token=reply_token, timestamp_ms=timestamp_ms, redelivery=redelivery
            )
        ],
    )


def line_message_event(
    user_id: str,
    message: dict[str, Any],
    *,
    reply_token: str | None = None,
    timestamp_ms: int | None = None,
    redelivery: bool = False,
) -> dict[str, Any]:
    """A `message` webhook event object carrying `message` (text, image, sticker, location...)."""
    return {
        "type": "message",
        "mode": "active",
        "timestamp": timestamp_ms if timestamp_ms is not None else int(time.time() * 1000),
        "source": {"type": "user", "userId": user_id},
        "webhookEventId": f"01{secrets.token_hex(12).upper()}",
        "deliveryContext": {"isRedelivery": redelivery},
        "replyToken": reply_token or secrets.token_hex(16),
        "message": message,
    }


def line_envelope(destination: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    """The delivery LINE posts: the bot's user id and its events (none for the console's verify ping)."""
    return {"destination": destination, "events": events}


def signed_line(payload: dict[str, Any], channel_secret: str) -> SignedWebhook:
    """Serialise and sign a delivery with the channel secret, as LINE does."""
    body = orjson.dumps(payload)
    return SignedWebhook(
        body=body,
        headers={
            "content-type": "application/json; charset=utf-8",
            "x-line-signature": sign(channel_secret.encode(), body),
        },
    )
