"""LINE Messaging API webhooks: a bot's message events, several per request.

Payload: developers.line.biz/en/reference/messaging-api/#webhook-event-objects (shapes as in
line/line-bot-sdk-python tests/v3/text/webhook.json). Signature: `x-line-signature` is
base64(HMAC-SHA256(channel secret, raw body)) (developers.line.biz/en/docs/messaging-api/verify-webhook-signature).
The channel secret is the bot's own `webhook_secret` (the account named by `destination`), else the
channel-wide `SWITCHBOARD_LINE_CHANNEL_SECRET`.

Only `message` events become events here. follow, unfollow, join, leave, memberJoined/Left, postback,
beacon, accountLink, unsend, videoPlayComplete and types newer than this parser carry nothing for an
agent to read and are dropped, as is the console's URL-verify ping (`"events": []`), which gets its 200.
LINE sends no delivery or read receipts for ordinary chats (its `delivery` event is for partner "LINE
notification messages" only) and does not echo a bot's own sends. A redelivered event
(`deliveryContext.isRedelivery`) is the original with the same ids and reply token
(developers.line.biz/en/docs/messaging-api/receiving-messages/#webhook-redelivery): the router stores
each message id once.
"""

import base64
import hashlib
import hmac
from datetime import datetime
from typing import Any
from uuid import uuid4

import orjson
from fastapi import Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ingest.errors import PayloadError, SignatureError
from ingest.timestamps import from_unix_millis
from ingest.webhook import WebhookRequest
from schemas.inbound import Attachment, DeliveryStatus, InboundMessage
from services.accounts import ChannelAccount, accounts_on, find_account

_MEDIA_KINDS = {"image": "image", "video": "video", "audio": "audio", "file": "document"}


class _Lenient(BaseModel):
    # LINE adds fields without notice ("don't use strict schemas"); only the fields read here are validated.
    model_config = ConfigDict(extra="ignore", frozen=True)


class _ContentProvider(_Lenient):
    type: str
    original_content_url: str | None = Field(default=None, alias="originalContentUrl")


class _Message(_Lenient):
    id: str
    type: str
    text: str | None = None
    quote_token: str | None = Field(default=None, alias="quoteToken")
    quoted_message_id: str | None = Field(default=None, alias="quotedMessageId")
    content_provider: _ContentProvider | None = Field(default=None, alias="contentProvider")
    file_name: str | None = Field(default=None, alias="fileName")
    sticker_id: str | None = Field(default=None, alias="stickerId")
    title: str | None = None
    address: str | None = None
    latitude: float | None = None
    longitude: float | None = None


class _Source(_Lenient):
    type: str
    user_id: str | None = Field(default=None, alias="userId")
    group_id: str | None = Field(default=None, alias="groupId")
    room_id: str | None = Field(default=None, alias="roomId")


class _MessageEvent(_Lenient):
    timestamp: int
    source: _Source
    # Absent in standby mode (another module answers): the reply then goes by push.
    reply_token: str | None = Field(default=None, alias="replyToken")
    message: _Message


class _Payload(_Lenient):
    destination: str
    # Other event types are not validated: a new one must not turn LINE's delivery into a 400.
    events: tuple[dict[str, Any], ...]


def sign(channel_secret: bytes, raw_body: bytes) -> str:
    """The `x-line-signature` header value LINE sends for this body."""
    return base64.b64encode(hmac.new(channel_secret, raw_body, hashlib.sha256).digest()).decode()


class LineWebhook:
    """`POST /webhooks/line`: signed event deliveries for one or more LINE bots."""

    def __init__(self, channel_secret: str, accounts: tuple[ChannelAccount, ...]) -> None:
        self._channel_secret = channel_secret
        self._accounts = accounts_on(accounts, "line")

    def verify(self, request: WebhookRequest) -> None:
        received = request.headers.get("x-line-signature")
        if not received:
            raise SignatureError("missing X-Line-Signature header")
        secret = self._secret_for(_destination(request.raw_body))
        if not secret:
            raise SignatureError("no LINE channel secret is configured for this bot")
        if not hmac.compare_digest(received.encode(), sign(secret.encode(), request.raw_body).encode()):
            raise SignatureError("X-Line-Signature does not match the body")

    def parse(self, request: WebhookRequest, received_at: datetime) -> list[InboundMessage | DeliveryStatus]:
        try:
            payload = _Payload.model_validate_json(request.raw_body)
            events = [_MessageEvent.model_validate(e) for e in payload.events if e.get("type") == "message"]
        except ValidationError as error:
            raise PayloadError.invalid(error) from error
        return [_message(event, payload.destination, received_at) for event in events]

    def acknowledge(self, accepted: int) -> Response:
        return JSONResponse({"accepted": accepted})

    def _secret_for(self, destination: str | None) -> str:
        account = find_account(self._accounts, "line", destination) if destination else None
        if account is not None and account.webhook_secret.get_secret_value():
            return account.webhook_secret.get_secret_value()
        return self._channel_secret


def _destination(raw_body: bytes) -> str | None:
    """The bot a delivery claims to be for; it only picks the key the signature is checked with."""
    try:
        body = orjson.loads(raw_body)
    except orjson.JSONDecodeError:
        return None
    destination = body.get("destination") if isinstance(body, dict) else None
    return destination if isinstance(destination, str) else None


def _message(event: _MessageEvent, destination: str, received_at: datetime) -> InboundMessage:
    source, m = event.source, event.message
    chat = source.group_id or source.room_id
    sender = source.user_id or chat
    if sender is None:
        raise PayloadError(f"message {m.id}: source has no userId, groupId or roomId")
    channel_data: dict[str, str] = {}
    if event.reply_token:
        channel_data["reply_token"] = event.reply_token
    if m.quote_token:
        channel_data["quote_token"] = m.quote_token
    if chat:  # in a group or room the answer belongs in that chat, not in a 1:1 with the member
        channel_data["to"] = chat
    text, attachments, content_type = _content(m)
    return InboundMessage(
        event_id=uuid4(),
        channel="line",
        account_external_id=destination,
        sender_external_id=sender,
        provider_message_id=m.id,
        sent_at=from_unix_millis(event.timestamp, f"message {m.id}: timestamp"),
        received_at=received_at,
        content_type=content_type,
        text=text,
        attachments=attachments,
        reply_to_provider_message_id=m.quoted_message_id,
        channel_data=channel_data,
    )


def _content(m: _Message) -> tuple[str | None, tuple[Attachment, ...], str]:
    if m.type == "text":
        return m.text, (), "text"
    kind = _MEDIA_KINDS.get(m.type)
    if kind is not None:
        # Content LINE hosts is fetched by message id from api-data.line.me/v2/bot/message/{id}/content;
        # an "external" provider gives its own URL instead.
        provider = m.content_provider
        url = provider.original_content_url if provider and provider.type == "external" else None
        attachment = Attachment(kind=kind, provider_media_id=m.id, url=url, filename=m.file_name)
        return None, (attachment,), kind
    if m.type == "sticker":
        return m.text, (Attachment(kind="sticker", provider_media_id=m.sticker_id),), "sticker"
    if m.type == "location" and m.latitude is not None and m.longitude is not None:
        label = ", ".join(part for part in (m.title, m.address) if part) or None
        return label, (Attachment(kind="location", url=f"geo:{m.latitude},{m.longitude}"),), "location"
    return None, (), "unsupported"
