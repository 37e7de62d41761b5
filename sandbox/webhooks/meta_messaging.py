"""Messenger and Instagram webhooks as Meta posts them (`messaging[]` events), for tests, demos and load tests.

Sign them with `sandbox.webhooks.signed_meta(payload, app_secret)`. Timestamps are milliseconds.
Shapes: ingest/channels/meta_messaging.py, which parses them.
"""

import time
from typing import Any, Literal

MessagingChannel = Literal["messenger", "instagram"]
_OBJECTS: dict[MessagingChannel, str] = {"messenger": "page", "instagram": "instagram"}


def messaging_text(
    channel: MessagingChannel,
    account_id: str,
    customer_id: str,
    mid: str,
    text: str,
    *,
    timestamp_ms: int | None = None,
) -> dict[str, Any]:
    """A customer's text message to a Page (Messenger) or an Instagram professional account."""
    return messaging_envelope(
        channel,
        account_id,
        [_event(customer_id, account_id, timestamp_ms, message={"mid": mid, "text": text})],
    )


def messaging_echo(
    channel: MessagingChannel,
    account_id: str,
    customer_id: str,
    mid: str,
    text: str,
    *,
    timestamp_ms: int | None = None,
) -> dict[str, Any]:
    """The echo of a message the account sent: sender and recipient swapped, `is_echo` set."""
    message = {"mid": mid, "text": text, "is_echo": True, "app_id": 1517776481860111}
    return messaging_envelope(channel, account_id, [_event(account_id, customer_id, timestamp_ms, message=message)])


def messenger_delivery(page_id: str, psid: str, mids: list[str], *, watermark_ms: int | None = None) -> dict[str, Any]:
    """Messenger's `message_deliveries` event for messages the Page sent."""
    delivery = {"mids": mids, "watermark": watermark_ms or _now_ms()}
    return messaging_envelope(
        "messenger", page_id, [{"sender": {"id": psid}, "recipient": {"id": page_id}, "delivery": delivery}]
    )


def messenger_read(page_id: str, psid: str, *, watermark_ms: int | None = None) -> dict[str, Any]:
    """Messenger's `message_reads` event: everything the Page sent before the watermark was read."""
    read = {"watermark": watermark_ms or _now_ms()}
    return messaging_envelope("messenger", page_id, [_event(psid, page_id, None, read=read)])


def instagram_seen(ig_id: str, igsid: str, mid: str, *, timestamp_ms: int | None = None) -> dict[str, Any]:
    """Instagram's `messaging_seen` event: the customer saw the message `mid` the account sent."""
    return messaging_envelope("instagram", ig_id, [_event(igsid, ig_id, timestamp_ms, read={"mid": mid})])


def messaging_envelope(channel: MessagingChannel, account_id: str, events: list[dict[str, Any]]) -> dict[str, Any]:
    """Wrap `messaging[]` events in the envelope Meta posts for the account."""
    return {"object": _OBJECTS[channel], "entry": [{"id": account_id, "time": _now_ms(), "messaging": events}]}


def _event(sender: str, recipient: str, timestamp_ms: int | None, **content: Any) -> dict[str, Any]:
    return {"sender": {"id": sender}, "recipient": {"id": recipient}, "timestamp": timestamp_ms or _now_ms(), **content}


def _now_ms() -> int:
    return int(time.time() * 1000)
