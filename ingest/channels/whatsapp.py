"""WhatsApp Cloud API webhooks: messages and delivery statuses of a WhatsApp Business Account.

One POST may carry several entries, changes, messages and statuses; each becomes its own event.
Payload reference: developers.facebook.com/docs/whatsapp/cloud-api/webhooks/payload-examples.
"""

from datetime import datetime
from typing import Any, Literal
from uuid import uuid4

from fastapi import Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ingest import meta
from ingest.errors import PayloadError
from ingest.timestamps import from_unix_seconds
from ingest.webhook import WebhookRequest
from schemas.inbound import Attachment, DeliveryError, DeliveryState, DeliveryStatus, InboundMessage

_MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")
# "played" is a voice message's "read"; statuses we do not track (e.g. "deleted") are dropped.
_STATUS_MAP: dict[str, DeliveryState] = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "played": "read",
    "failed": "failed",
}


class _Lenient(BaseModel):
    # Meta adds fields without notice; only the fields read here are validated.
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Media(_Lenient):
    id: str
    mime_type: str | None = None
    caption: str | None = None
    filename: str | None = None


class _Location(_Lenient):
    latitude: float
    longitude: float
    name: str | None = None
    address: str | None = None


class _Context(_Lenient):
    id: str | None = None


class _Error(_Lenient):
    code: int
    title: str | None = None
    message: str | None = None
    error_data: dict[str, Any] | None = None


class _Message(_Lenient):
    sender: str = Field(alias="from")
    id: str
    timestamp: str
    type: str
    text: dict[str, str] | None = None
    image: _Media | None = None
    video: _Media | None = None
    audio: _Media | None = None
    document: _Media | None = None
    sticker: _Media | None = None
    location: _Location | None = None
    interactive: dict[str, Any] | None = None
    button: dict[str, Any] | None = None
    reaction: dict[str, Any] | None = None
    context: _Context | None = None


class _Status(_Lenient):
    id: str
    status: str
    timestamp: str
    recipient_id: str
    errors: tuple[_Error, ...] = ()


class _Profile(_Lenient):
    name: str | None = None


class _Contact(_Lenient):
    wa_id: str
    profile: _Profile | None = None


class _Metadata(_Lenient):
    phone_number_id: str


class _Value(_Lenient):
    messaging_product: Literal["whatsapp"]
    metadata: _Metadata
    # Tuples, not lists: pydantic deep-copies a mutable default on every instance (7% of py-spy samples).
    contacts: tuple[_Contact, ...] = ()
    messages: tuple[_Message, ...] = ()
    statuses: tuple[_Status, ...] = ()


class _Change(_Lenient):
    field: str
    value: dict[str, Any]


class _Entry(_Lenient):
    id: str
    changes: tuple[_Change, ...]


class _Payload(_Lenient):
    object: Literal["whatsapp_business_account"]
    entry: tuple[_Entry, ...]


class WhatsAppWebhook:
    """`POST /webhooks/whatsapp`: Meta-signed WhatsApp Business Account notifications."""

    def __init__(self, app_secret: bytes) -> None:
        self._app_secret = app_secret

    def verify(self, request: WebhookRequest) -> None:
        meta.verify_signature(self._app_secret, request.headers, request.raw_body)

    def parse(self, request: WebhookRequest, received_at: datetime) -> list[InboundMessage | DeliveryStatus]:
        try:
            payload = _Payload.model_validate_json(request.raw_body)
            values = [
                _Value.model_validate(change.value)
                for entry in payload.entry
                for change in entry.changes
                if change.field == "messages"
            ]
        except ValidationError as error:
            raise PayloadError.invalid(error) from error
        events: list[InboundMessage | DeliveryStatus] = []
        for value in values:
            names = {c.wa_id: c.profile.name for c in value.contacts if c.profile}
            account = value.metadata.phone_number_id
            events.extend(_message(m, account, names.get(m.sender), received_at) for m in value.messages)
            events.extend(_status(s, account, received_at) for s in value.statuses if s.status in _STATUS_MAP)
        return events

    def acknowledge(self, accepted: int) -> Response:
        return JSONResponse({"accepted": accepted})


def _message(m: _Message, account: str, sender_name: str | None, received_at: datetime) -> InboundMessage:
    text, attachments, content_type = _content(m)
    return InboundMessage(
        event_id=uuid4(),
        channel="whatsapp",
        account_external_id=account,
        sender_external_id=m.sender,
        sender_name=sender_name,
        provider_message_id=m.id,
        sent_at=_timestamp(m.timestamp),
        received_at=received_at,
        content_type=content_type,
        text=text,
        attachments=attachments,
        reply_to_provider_message_id=m.context.id if m.context else None,
    )


def _content(m: _Message) -> tuple[str | None, tuple[Attachment, ...], str]:
    if m.type == "text" and m.text is not None:
        return m.text.get("body"), (), "text"
    media: _Media | None = getattr(m, m.type, None) if m.type in _MEDIA_TYPES else None
    if media is not None:
        attachment = Attachment(
            kind=m.type,
            provider_media_id=media.id,
            mime_type=media.mime_type,
            filename=media.filename,
            caption=media.caption,
        )
        return media.caption, (attachment,), m.type
    if m.type == "location" and m.location is not None:
        loc = m.location
        label = ", ".join(part for part in (loc.name, loc.address) if part) or None
        return label, (Attachment(kind="location", url=f"geo:{loc.latitude},{loc.longitude}"),), "location"
    if m.type == "interactive" and m.interactive is not None:
        reply = m.interactive.get("button_reply") or m.interactive.get("list_reply") or {}
        return reply.get("title"), (), "interactive"
    if m.type == "button" and m.button is not None:
        return m.button.get("text"), (), "button"
    if m.type == "reaction" and m.reaction is not None:
        return m.reaction.get("emoji"), (), "reaction"
    # "unsupported", "errors", or a type newer than this parser: stored so the agent sees something came.
    return None, (), "unsupported"


def _status(s: _Status, account: str, received_at: datetime) -> DeliveryStatus:
    return DeliveryStatus(
        event_id=uuid4(),
        channel="whatsapp",
        account_external_id=account,
        recipient_external_id=s.recipient_id,
        provider_message_id=s.id,
        status=_STATUS_MAP[s.status],
        occurred_at=_timestamp(s.timestamp),
        received_at=received_at,
        errors=tuple(
            DeliveryError(
                code=str(e.code),
                title=e.title,
                detail=(e.error_data or {}).get("details") or e.message,
            )
            for e in s.errors
        ),
    )


def _timestamp(unix_seconds: str) -> datetime:
    try:
        seconds = int(unix_seconds)
    except ValueError as error:  # also a number of more than 4,300 digits
        raise PayloadError(f"timestamp is not Unix seconds: {unix_seconds[:40]!r}") from error
    return from_unix_seconds(seconds, "timestamp")
