"""Webchat: Switchboard's own API for a site's chat-widget backend. This docstring is its reference.

Request
    POST /webhooks/webchat
    Content-Type: application/json
    X-Switchboard-Timestamp: 1763899200
    X-Switchboard-Signature: sha256=<hex HMAC-SHA256(key, "<timestamp>.<raw body>")>

    The key is the site's own (its account's `webhook_secret`), else the channel-wide
    SWITCHBOARD_WEBCHAT_SIGNING_KEY. The timestamp is Unix seconds when the request was signed; one
    more than SWITCHBOARD_WEBHOOK_TIMESTAMP_TOLERANCE_S (default 300) from our clock is refused.
    Signing code: services/webchat_signature.py.

Body: one visitor message
    {"site_id": "shop-1", "visitor_id": "v-8c1f", "visitor_name": "Ana",
     "message_id": "m-1001", "text": "Where is my order?", "sent_at": "2026-11-23T12:00:00Z",
     "attachments": [{"kind": "image", "url": "https://shop.example/u/1.png",
                      "mime_type": "image/png", "filename": "1.png"}]}
    site_id, visitor_id, message_id  non-empty strings of at most 256 characters, the site's own ids
    visitor_name                     optional
    text                             the message; may be "" only when attachments carry it
    sent_at                          ISO 8601 with a UTC offset
    attachments                      optional; kind is image, video, audio or document; url is http(s);
                                     mime_type and filename optional
or a batch of one site's messages and receipts, each list optional, at least one item in all:
    {"messages": [<message>, ...], "receipts": [<receipt>, ...]}
    a receipt reports a reply the site's backend got from Switchboard reaching the visitor:
    {"site_id": "shop-1", "visitor_id": "v-8c1f", "message_id": "<the reply's message_id>",
     "status": "delivered" | "read", "at": "2026-11-23T12:00:05Z"}
Unknown fields are refused, so a misspelt one is caught rather than ignored.

Answers
    200 {"accepted": <events>} once the events are durably queued; redelivering a message_id is safe
    (it is stored once), so retry whatever did not get a 200.
    401 {"error": "bad_signature", "detail": ...}  missing, wrong or stale signature
    400 {"error": "bad_payload", "detail": ...}    signed, but not the body above
    413 above 1 MiB; 503 when Switchboard cannot queue it now: retry.

Ids are the site's own, so Switchboard keeps them under the site's: the visitor is contact
"<site_id>:<visitor_id>" and the message "<site_id>:<message_id>", and two sites' "42" never meet.
Replies go the other way: dispatcher/channels/webchat.py.
"""

import time
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal, Self
from uuid import uuid4

import orjson
from fastapi import Response
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, ConfigDict, StringConstraints, ValidationError, model_validator

from ingest.errors import PayloadError, SignatureError
from ingest.webhook import WebhookRequest
from schemas.inbound import Attachment, DeliveryStatus, InboundMessage
from services.accounts import ChannelAccount
from services.webchat_signature import InvalidSignature, verify_signature

_Id = Annotated[str, StringConstraints(min_length=1, max_length=256)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Attachment(_Strict):
    kind: Literal["image", "video", "audio", "document"]
    url: Annotated[str, StringConstraints(pattern=r"^https?://\S+$", max_length=2048)]
    mime_type: str | None = None
    filename: str | None = None


class _Message(_Strict):
    site_id: _Id
    visitor_id: _Id
    visitor_name: str | None = None
    message_id: _Id
    text: str
    sent_at: AwareDatetime
    attachments: tuple[_Attachment, ...] = ()

    @model_validator(mode="after")
    def _says_something(self) -> Self:
        if not self.text.strip() and not self.attachments:
            raise ValueError("text is empty and there are no attachments")
        return self


class _Receipt(_Strict):
    site_id: _Id
    visitor_id: _Id
    message_id: _Id
    status: Literal["delivered", "read"]
    at: AwareDatetime


class _Batch(_Strict):
    messages: tuple[_Message, ...] = ()
    receipts: tuple[_Receipt, ...] = ()


class WebchatWebhook:
    """`POST /webhooks/webchat`: a site's chat-widget backend, signed with the site's key."""

    def __init__(
        self,
        default_key: bytes,
        accounts: tuple[ChannelAccount, ...],
        tolerance_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._default_key = default_key
        self._tolerance_s = tolerance_s
        self._clock = clock
        self._site_keys = {
            a.external_id: a.webhook_secret.get_secret_value().encode()
            for a in accounts
            if a.channel == "webchat" and a.webhook_secret.get_secret_value()
        }

    def verify(self, request: WebhookRequest) -> None:
        # The site names itself in the body; a body naming no single site can only be signed with the
        # channel-wide key (and parse refuses it after).
        site = _site_of(request.raw_body)
        key = self._site_keys.get(site, self._default_key) if site else self._default_key
        try:
            verify_signature(key, request.headers, request.raw_body, now=self._clock(), tolerance_s=self._tolerance_s)
        except InvalidSignature as error:
            raise SignatureError(str(error)) from error

    def parse(self, request: WebhookRequest, received_at: datetime) -> list[InboundMessage | DeliveryStatus]:
        batch = _batch(request.raw_body)
        sites = {m.site_id for m in batch.messages} | {r.site_id for r in batch.receipts}
        if len(sites) != 1:
            raise PayloadError("a request carries one site's messages and receipts, and at least one")
        return [
            *(_message(m, received_at) for m in batch.messages),
            *(_receipt(r, received_at) for r in batch.receipts),
        ]

    def acknowledge(self, accepted: int) -> Response:
        return JSONResponse({"accepted": accepted})


def _site_of(raw_body: bytes) -> str | None:
    try:
        body: Any = orjson.loads(raw_body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(body, dict):
        return None
    items = [body] if "site_id" in body else [*_items(body.get("messages")), *_items(body.get("receipts"))]
    sites = {site for item in items if isinstance(site := item.get("site_id"), str)}
    return sites.pop() if len(sites) == 1 else None


def _items(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _batch(raw_body: bytes) -> _Batch:
    try:
        body: Any = orjson.loads(raw_body)
        if isinstance(body, dict) and ("messages" in body or "receipts" in body):
            return _Batch.model_validate(body)
        return _Batch(messages=(_Message.model_validate(body),))
    except orjson.JSONDecodeError as error:
        raise PayloadError(f"body is not JSON: {error}") from error
    except ValidationError as error:
        raise PayloadError.invalid(error) from error


def _message(m: _Message, received_at: datetime) -> InboundMessage:
    attachments = tuple(
        Attachment(kind=a.kind, url=a.url, mime_type=a.mime_type, filename=a.filename) for a in m.attachments
    )
    text = m.text.strip()
    return InboundMessage(
        event_id=uuid4(),
        channel="webchat",
        account_external_id=m.site_id,
        sender_external_id=f"{m.site_id}:{m.visitor_id}",
        sender_name=m.visitor_name or None,
        provider_message_id=f"{m.site_id}:{m.message_id}",
        sent_at=m.sent_at,
        received_at=received_at,
        content_type="text" if text else attachments[0].kind,
        text=text or None,
        attachments=attachments,
    )


def _receipt(r: _Receipt, received_at: datetime) -> DeliveryStatus:
    return DeliveryStatus(
        event_id=uuid4(),
        channel="webchat",
        account_external_id=r.site_id,
        recipient_external_id=f"{r.site_id}:{r.visitor_id}",
        provider_message_id=f"{r.site_id}:{r.message_id}",
        status=r.status,
        occurred_at=r.at,
        received_at=received_at,
    )
