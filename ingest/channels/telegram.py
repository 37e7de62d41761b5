"""Telegram Bot API webhooks: one `Update` per request (core.telegram.org/bots/api#update).

Authentication is the `secret_token` given to `setWebhook`, sent back verbatim in
`X-Telegram-Bot-Api-Secret-Token` (core.telegram.org/bots/api#setwebhook); no HMAC, no timestamp.
The secret also says which bot an update is for, since an Update never names its bot:
- a bot whose account has its own `webhook_secret` is the one whose secret the header carries;
- bots without one share `SWITCHBOARD_TELEGRAM_SECRET_TOKEN`: with a single such bot it is that one,
  with several each bot's webhook URL names it, `/webhooks/telegram?bot=<bot id>` (the number before
  the colon in its token).

Kept: `message`, and `edited_message` as a new message that refers to the original (id
`<chat>:<message>:edited:<edit_date>`), so the agent sees the correction as the customer made it.
Dropped: messages from bots, messages with no sender (`from`), channel posts, and every other update
type (callbacks, chat member changes...). The Bot API has no delivery or read receipts and does not
send a bot its own messages. An album arrives as one update per photo (same `media_group_id`).
"""

import hmac
from datetime import datetime
from urllib.parse import parse_qs, urlsplit
from uuid import uuid4

from fastapi import Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ingest.errors import PayloadError, SignatureError
from ingest.timestamps import from_unix_seconds
from ingest.webhook import WebhookRequest
from schemas.inbound import Attachment, DeliveryStatus, InboundMessage
from services.accounts import ChannelAccount, accounts_on

SECRET_HEADER = "x-telegram-bot-api-secret-token"


class _Lenient(BaseModel):
    # The Bot API adds fields with every release; only the fields read here are validated.
    model_config = ConfigDict(extra="ignore", frozen=True)


class _User(_Lenient):
    id: int
    is_bot: bool
    first_name: str
    last_name: str | None = None


class _Chat(_Lenient):
    id: int
    type: str


class _File(_Lenient):
    file_id: str
    width: int = 0
    height: int = 0
    file_size: int = 0
    file_name: str | None = None
    mime_type: str | None = None


class _Sticker(_File):
    emoji: str | None = None


class _Location(_Lenient):
    latitude: float
    longitude: float


class _Venue(_Lenient):
    location: _Location
    title: str
    address: str


class _Contact(_Lenient):
    phone_number: str
    first_name: str
    last_name: str | None = None


class _Replied(_Lenient):
    message_id: int


class _Message(_Lenient):
    message_id: int
    sender: _User | None = Field(default=None, alias="from")
    chat: _Chat
    date: int
    edit_date: int | None = None
    text: str | None = None
    caption: str | None = None
    photo: tuple[_File, ...] = ()
    animation: _File | None = None
    document: _File | None = None
    video: _File | None = None
    video_note: _File | None = None
    voice: _File | None = None
    audio: _File | None = None
    sticker: _Sticker | None = None
    venue: _Venue | None = None
    location: _Location | None = None
    contact: _Contact | None = None
    reply_to_message: _Replied | None = None


class _Update(_Lenient):
    update_id: int
    message: _Message | None = None
    edited_message: _Message | None = None


class TelegramWebhook:
    """`POST /webhooks/telegram`: updates for one or more bots, authenticated by their secret_token."""

    def __init__(self, secret_token: str, accounts: tuple[ChannelAccount, ...]) -> None:
        self._secret_token = secret_token
        self._accounts = accounts_on(accounts, "telegram")

    def verify(self, request: WebhookRequest) -> None:
        self._bot(request)

    def parse(self, request: WebhookRequest, received_at: datetime) -> list[InboundMessage | DeliveryStatus]:
        bot = self._bot(request)
        try:
            update = _Update.model_validate_json(request.raw_body)
        except ValidationError as error:
            raise PayloadError.invalid(error) from error
        message = update.message or update.edited_message
        if message is None or message.sender is None or message.sender.is_bot:
            return []
        return [_inbound(message, message.sender, bot, edited=update.message is None, received_at=received_at)]

    def acknowledge(self, accepted: int) -> Response:
        return JSONResponse({"accepted": accepted})

    def _bot(self, request: WebhookRequest) -> str:
        bot_param = parse_qs(urlsplit(request.url).query).get("bot", [None])[0]
        return identify_bot(request.headers.get(SECRET_HEADER), bot_param, self._secret_token, self._accounts)


def identify_bot(
    received: str | None, bot_param: str | None, channel_secret: str, accounts: tuple[ChannelAccount, ...]
) -> str:
    """The bot id an update is for, from the secret it carries; `SignatureError` when it proves none."""
    if not received:
        raise SignatureError("missing X-Telegram-Bot-Api-Secret-Token header")
    own_secret = [a for a in accounts if a.webhook_secret.get_secret_value()]
    # Every secret is compared, so the time taken does not tell which bot's secret came close.
    matches = [a for a in own_secret if _equal(received, a.webhook_secret.get_secret_value())]
    if matches:
        bot = matches[0].external_id
        if bot_param is not None and bot_param != bot:
            raise SignatureError(f"the secret token is not bot {bot_param}'s")
        return bot
    if not channel_secret or not _equal(received, channel_secret):
        raise SignatureError("X-Telegram-Bot-Api-Secret-Token does not match")
    if bot_param is not None:
        if any(a.external_id == bot_param for a in own_secret):
            raise SignatureError(f"bot {bot_param} has a secret token of its own")
        return bot_param
    sharing = [a.external_id for a in accounts if not a.webhook_secret.get_secret_value()]
    if len(sharing) == 1:
        return sharing[0]
    raise PayloadError(
        f"{len(sharing)} configured Telegram bots use the channel secret token, so the update does not say "
        "which bot it is for: add ?bot=<bot id> to each bot's webhook URL"
    )


def _equal(received: str, secret: str) -> bool:
    return hmac.compare_digest(received.encode(), secret.encode())


def _inbound(m: _Message, sender: _User, bot: str, *, edited: bool, received_at: datetime) -> InboundMessage:
    message_id = f"{m.chat.id}:{m.message_id}"  # message_id is unique within its chat only
    replied = f"{m.chat.id}:{m.reply_to_message.message_id}" if m.reply_to_message else None
    text, attachments, content_type = _content(m)
    sent = m.edit_date if edited and m.edit_date else m.date
    return InboundMessage(
        event_id=uuid4(),
        channel="telegram",
        account_external_id=bot,
        sender_external_id=str(sender.id),
        sender_name=" ".join(part for part in (sender.first_name, sender.last_name) if part),
        provider_message_id=f"{message_id}:edited:{sent}" if edited else message_id,
        sent_at=from_unix_seconds(sent, "message.date"),
        received_at=received_at,
        content_type=content_type,
        text=text,
        attachments=attachments,
        reply_to_provider_message_id=message_id if edited else replied,
        channel_data={"chat_id": str(m.chat.id)},
    )


def _content(m: _Message) -> tuple[str | None, tuple[Attachment, ...], str]:
    if m.text is not None:
        return m.text, (), "text"
    if m.photo:
        largest = max(m.photo, key=lambda size: (size.width * size.height, size.file_size))
        return m.caption, (Attachment(kind="image", provider_media_id=largest.file_id),), "image"
    # An animation also carries `document`: it is looked at first so a GIF is not filed as a document.
    for kind, media in (
        ("video", m.animation),
        ("video", m.video),
        ("video", m.video_note),
        ("audio", m.voice),
        ("audio", m.audio),
        ("document", m.document),
    ):
        if media is not None:
            attachment = Attachment(
                kind=kind, provider_media_id=media.file_id, mime_type=media.mime_type, filename=media.file_name
            )
            return m.caption, (attachment,), kind
    if m.sticker is not None:
        return m.sticker.emoji, (Attachment(kind="sticker", provider_media_id=m.sticker.file_id),), "sticker"
    place = m.venue.location if m.venue else m.location
    if place is not None:
        label = f"{m.venue.title}, {m.venue.address}" if m.venue else None
        return label, (Attachment(kind="location", url=f"geo:{place.latitude},{place.longitude}"),), "location"
    if m.contact is not None:
        name = " ".join(part for part in (m.contact.first_name, m.contact.last_name) if part)
        return f"{name} {m.contact.phone_number}", (), "contact"
    return None, (), "unsupported"
