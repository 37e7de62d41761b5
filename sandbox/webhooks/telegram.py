"""Telegram webhook updates with the bot's secret token, as the Bot API posts them.

The Bot API has no delivery or read receipts, so messages are all there is to build.
"""

import itertools
import time
from typing import Any

import orjson

from ingest.channels.telegram import SECRET_HEADER
from sandbox.webhooks import SignedWebhook

_update_ids = itertools.count(int(time.time()))


def telegram_text(
    user_id: int,
    message_id: int,
    text: str,
    *,
    chat_id: int | None = None,
    date: int | None = None,
    first_name: str = "Test",
    last_name: str | None = "Customer",
    update_id: int | None = None,
) -> dict[str, Any]:
    """An Update carrying one text message from a user, in their private chat with the bot by default."""
    sender: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "en"}
    if last_name:
        sender["last_name"] = last_name
    if chat_id is None:  # a private chat's id is the user's id
        chat = {"id": user_id, "type": "private", "first_name": first_name}
    else:
        chat = {"id": chat_id, "type": "group", "title": "Test group"}
    return telegram_update(
        {"message_id": message_id, "from": sender, "chat": chat, "date": date or int(time.time()), "text": text},
        update_id=update_id,
    )


def telegram_update(message: dict[str, Any], *, kind: str = "message", update_id: int | None = None) -> dict[str, Any]:
    """An Update whose `kind` (message, edited_message, channel_post...) is `message`."""
    return {"update_id": update_id if update_id is not None else next(_update_ids), kind: message}


def signed_telegram(payload: dict[str, Any], secret_token: str) -> SignedWebhook:
    """Serialise an Update and attach the secret_token header Telegram sends with it."""
    return SignedWebhook(
        body=orjson.dumps(payload), headers={"content-type": "application/json", SECRET_HEADER: secret_token}
    )
