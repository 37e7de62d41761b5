"""Webchat webhooks as a site's chat-widget backend posts them (ingest/channels/webchat.py)."""

from datetime import UTC, datetime
from typing import Any

import orjson

from sandbox.webhooks import SignedWebhook
from services.webchat_signature import signature_headers


def webchat_message(
    site_id: str,
    visitor_id: str,
    message_id: str,
    text: str,
    *,
    visitor_name: str | None = "Test Visitor",
    sent_at: datetime | None = None,
    attachments: tuple[dict[str, str], ...] = (),
) -> dict[str, Any]:
    """One visitor message."""
    message: dict[str, Any] = {
        "site_id": site_id,
        "visitor_id": visitor_id,
        "message_id": message_id,
        "text": text,
        "sent_at": (sent_at or datetime.now(UTC)).isoformat(),
    }
    if visitor_name is not None:
        message["visitor_name"] = visitor_name
    if attachments:
        message["attachments"] = list(attachments)
    return message


def webchat_receipt(
    site_id: str, visitor_id: str, message_id: str, status: str, *, at: datetime | None = None
) -> dict[str, Any]:
    """A receipt for a reply the site delivered (`message_id` is the reply's)."""
    return {
        "site_id": site_id,
        "visitor_id": visitor_id,
        "message_id": message_id,
        "status": status,
        "at": (at or datetime.now(UTC)).isoformat(),
    }


def signed_webchat(payload: dict[str, Any], key: str, *, timestamp: float | None = None) -> SignedWebhook:
    """Serialise and sign a webchat webhook with the site's key, now unless `timestamp` is given."""
    body = orjson.dumps(payload)
    now = timestamp if timestamp is not None else datetime.now(UTC).timestamp()
    return SignedWebhook(
        body=body, headers={"content-type": "application/json", **signature_headers(key.encode(), body, now)}
    )
