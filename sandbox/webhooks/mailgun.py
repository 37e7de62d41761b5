"""Mailgun's webhooks as Mailgun posts them, signed with a webhook signing key.

A Route forward is form-encoded (multipart when the email has attachments), the fields of
documentation.mailgun.com/docs/mailgun/user-manual/receive-forward-store/receive-http; an event webhook
is JSON, as documentation.mailgun.com/docs/mailgun/user-manual/webhooks/webhook-payloads shows it.
Every POST gets a fresh timestamp and token, as Mailgun signs each attempt.
"""

import secrets
import time
from typing import Any
from urllib.parse import urlencode

import httpx
import orjson

from ingest.mailgun_signature import sign
from sandbox.webhooks import SignedWebhook


def mailgun_email(
    recipient: str,
    sender: str,
    text: str,
    *,
    message_id: str,
    subject: str = "Order 42",
    name: str = "Test Customer",
    in_reply_to: str | None = None,
    references: str | None = None,
) -> dict[str, str]:
    """The fields of a Route forward of one email from `sender` to our mailbox `recipient`, unsigned."""
    headers = [
        ["Received", "by mxa.mailgun.org with ESMTP; Mon, 23 Nov 2026 12:00:00 +0000"],
        ["Mime-Version", "1.0"],
        ["From", f"{name} <{sender}>"],
        ["To", recipient],
        ["Subject", subject],
        ["Message-Id", message_id],
        ["Date", "Mon, 23 Nov 2026 12:00:00 +0000"],
        ["Content-Type", 'text/plain; charset="utf-8"'],
    ]
    if in_reply_to:
        headers.append(["In-Reply-To", in_reply_to])
    if references:
        headers.append(["References", references])
    return {
        "recipient": recipient,
        "sender": sender,
        "from": f"{name} <{sender}>",
        "subject": subject,
        "body-plain": f"{text}\r\n\r\n-- \r\n{name}\r\n",
        "stripped-text": text,
        "stripped-signature": f"-- \r\n{name}",
        "message-headers": orjson.dumps(headers).decode(),
    }


def signature_fields(signing_key: str, *, timestamp: int | None = None, token: str | None = None) -> dict[str, str]:
    """`timestamp`, `token` and `signature` as Mailgun signs them: fresh unless given."""
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    token = token or secrets.token_hex(25)  # 50 characters, as Mailgun's
    return {"timestamp": stamp, "token": token, "signature": sign(signing_key.encode(), stamp, token)}


def signed_mailgun_form(fields: dict[str, str], signing_key: str, **signature: Any) -> SignedWebhook:
    """A form-encoded Route forward, signed."""
    body = urlencode({**fields, **signature_fields(signing_key, **signature)}).encode()
    return SignedWebhook(body=body, headers={"content-type": "application/x-www-form-urlencoded"})


def signed_mailgun_multipart(
    fields: dict[str, str], files: list[tuple[str, str, bytes]], signing_key: str, **signature: Any
) -> SignedWebhook:
    """A multipart Route forward whose email has `files` (filename, content type, bytes), signed."""
    data = {**fields, "attachment-count": str(len(files)), **signature_fields(signing_key, **signature)}
    uploads = [
        (f"attachment-{n}", (filename, content, content_type))
        for n, (filename, content_type, content) in enumerate(files, start=1)
    ]
    request = httpx.Request("POST", "http://mailgun.invalid/", data=data, files=uploads)
    return SignedWebhook(body=request.read(), headers={"content-type": request.headers["content-type"]})


def mailgun_event(
    event: str,
    message_id: str,
    recipient: str,
    *,
    sender: str,
    severity: str | None = None,
    timestamp: float | None = None,
) -> dict[str, Any]:
    """The `event-data` of an event about a message we sent (Message-ID without its angle brackets)."""
    data: dict[str, Any] = {
        "id": secrets.token_urlsafe(16),
        "event": event,
        "timestamp": timestamp if timestamp is not None else time.time(),
        "log-level": "info" if event in ("delivered", "opened") else "error",
        "recipient": recipient,
        "recipient-domain": recipient.rpartition("@")[2],
        "envelope": {"sender": sender, "targets": recipient, "transport": "smtp"},
        "message": {"headers": {"from": sender, "to": recipient, "message-id": message_id.strip("<>")}},
        "flags": {"is-authenticated": True, "is-test-mode": False},
    }
    if event == "failed":
        data["severity"] = severity or "permanent"
        data["reason"] = "bounce" if data["severity"] == "permanent" else "generic"
        data["delivery-status"] = {
            "code": 550 if data["severity"] == "permanent" else 421,
            "message": "5.1.1 The email account that you tried to reach does not exist.",
            "description": "",
            "attempt-no": 1,
        }
    return data


def signed_mailgun_event(event_data: dict[str, Any], signing_key: str, **signature: Any) -> SignedWebhook:
    """An event webhook, signed."""
    body = orjson.dumps({"signature": signature_fields(signing_key, **signature), "event-data": event_data})
    return SignedWebhook(body=body, headers={"content-type": "application/json"})
