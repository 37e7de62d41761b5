"""Messenger and Instagram webhooks: Meta's `messaging[]` format, which both channels share.

    {"object": "page" | "instagram",
     "entry": [{"id": <Page id | Instagram professional account id>, "time": <ms>,
                "messaging": [{"sender": {"id": <PSID | IGSID>}, "recipient": {"id": <entry id>},
                               "timestamp": <ms>, "message" | "postback" | "delivery" | "read": {...}}]}]}

One POST may batch several entries and events; each becomes its own event, routed to the account
`entry.id` names. What each kind of event becomes:

- `message`                   InboundMessage; attachments as Attachment(kind, url), `file` as "document"
- `message.is_echo`           nothing: our own send coming back (Instagram echoes arrive unasked)
- `message.is_deleted`        nothing: the customer unsent a message already stored under that mid
- `postback`                  InboundMessage "postback", text = the button's title: the customer tapped a
                              button (Get Started, menu, ice breaker), which opens the 24-hour window too.
                              Before Graph v11 a postback has no mid; its id is then sender + timestamp,
                              so a redelivery is still stored once.
- `delivery.mids`             DeliveryStatus "delivered" for each mid
- `read.mid` (Instagram)      DeliveryStatus "read"
- `read.watermark` only       nothing. Messenger's reads, and deliveries without `mids`, only say "all
  (Messenger), and            messages before this time": a DeliveryStatus names one message, and mapping
  `delivery` without mids     a time onto our sends needs the router's store; those sends stay "sent".
- `standby[]`                 nothing: another app owns the thread (handover protocol) and answers it;
                              our sends would be refused until it passes control back, so an agent
                              assigned to it could not reply.
- `changes[]`                 nothing: Instagram comments and mentions, and the App Dashboard's test events.
- reactions, edits, referrals, opt-ins, handovers: nothing; none is a message an agent has to answer.

`channel_data` stays empty: a reply needs only the account and the sender's id, which the message has.

Sources: Messenger developers.facebook.com/documentation/business-messaging/messenger-platform/webhooks/
webhook-events/{messages,message-echoes,message-deliveries,message-reads,messaging_postbacks};
Instagram developers.facebook.com/documentation/business-messaging/instagram-messaging/webhooks
(`read.mid` in `messaging_seen`, as chatwoot's Instagram::ReadStatusService reads it).
"""

from datetime import datetime
from typing import Literal
from uuid import uuid4

from fastapi import Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, ValidationError

from ingest import meta
from ingest.errors import PayloadError
from ingest.timestamps import from_unix_millis
from ingest.webhook import WebhookRequest
from schemas.inbound import Attachment, DeliveryState, DeliveryStatus, InboundMessage

MessagingChannel = Literal["messenger", "instagram"]
_OBJECTS: dict[MessagingChannel, str] = {"messenger": "page", "instagram": "instagram"}
# Meta's "file" is what the other channels call a document.
_KINDS = {"file": "document"}


class _Lenient(BaseModel):
    # Meta adds fields without notice; only the fields read here are validated.
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Party(_Lenient):
    id: str | None = None  # absent when a plugin opt-in names the person by `user_ref` instead


class _Coordinates(_Lenient):
    lat: float
    long: float


class _AttachmentPayload(_Lenient):
    url: str | None = None
    title: str | None = None
    sticker_id: int | None = None
    coordinates: _Coordinates | None = None


class _Attachment(_Lenient):
    type: str
    payload: _AttachmentPayload | None = None  # an unsupported share is a `fallback` with no payload


class _ReplyTo(_Lenient):
    mid: str | None = None  # an Instagram story reply carries `story` instead


class _Message(_Lenient):
    mid: str
    text: str | None = None
    attachments: tuple[_Attachment, ...] = ()
    reply_to: _ReplyTo | None = None
    is_echo: bool = False
    is_deleted: bool = False
    is_unsupported: bool = False


class _Postback(_Lenient):
    mid: str | None = None
    title: str | None = None


class _Delivery(_Lenient):
    mids: tuple[str, ...] = ()
    watermark: int


class _Read(_Lenient):
    mid: str | None = None
    watermark: int | None = None


class _Event(_Lenient):
    sender: _Party
    recipient: _Party
    timestamp: int | None = None  # Meta's own delivery example has none
    message: _Message | None = None
    postback: _Postback | None = None
    delivery: _Delivery | None = None
    read: _Read | None = None


class _Entry(_Lenient):
    id: str
    messaging: tuple[_Event, ...] = ()


class _Payload(_Lenient):
    object: str
    entry: tuple[_Entry, ...]


class MetaMessagingWebhook:
    """`POST /webhooks/messenger` or `/webhooks/instagram`: Meta-signed `messaging[]` notifications."""

    def __init__(self, channel: MessagingChannel, app_secret: bytes) -> None:
        self.channel: MessagingChannel = channel
        self._object = _OBJECTS[channel]
        self._app_secret = app_secret

    def verify(self, request: WebhookRequest) -> None:
        meta.verify_signature(self._app_secret, request.headers, request.raw_body)

    def parse(self, request: WebhookRequest, received_at: datetime) -> list[InboundMessage | DeliveryStatus]:
        try:
            payload = _Payload.model_validate_json(request.raw_body)
        except ValidationError as error:
            raise PayloadError.invalid(error) from error
        if payload.object != self._object:
            raise PayloadError(f"object: {self.channel} webhooks carry {self._object!r}, not {payload.object!r}")
        events: list[InboundMessage | DeliveryStatus] = []
        for entry in payload.entry:
            for event in entry.messaging:
                events.extend(self._events(entry.id, event, received_at))
        return events

    def acknowledge(self, accepted: int) -> Response:
        return JSONResponse({"accepted": accepted})

    def _events(self, account: str, event: _Event, received_at: datetime) -> list[InboundMessage | DeliveryStatus]:
        customer = event.sender.id
        if event.message is not None and (event.message.is_echo or event.message.is_deleted):
            return []
        if event.message is None and event.postback is None and event.delivery is None and event.read is None:
            return []
        if customer is None:
            raise PayloadError("sender.id: a message or receipt names its sender")
        if event.message is not None:
            return [self._message(account, customer, event.message, _sent_at(event), received_at)]
        if event.postback is not None:
            return [self._postback(account, customer, event.postback, _sent_at(event), received_at)]
        if event.delivery is not None:
            at = _instant(event.timestamp or event.delivery.watermark)
            return [self._receipt(account, customer, mid, "delivered", at, received_at) for mid in event.delivery.mids]
        read = event.read
        if read is not None and read.mid is not None:
            seen = event.timestamp or read.watermark
            at = _instant(seen) if seen else received_at
            return [self._receipt(account, customer, read.mid, "read", at, received_at)]
        return []

    def _message(
        self, account: str, customer: str, m: _Message, sent_at: datetime, received_at: datetime
    ) -> InboundMessage:
        # A sticker comes as both a `sticker` and an `image` attachment until Meta's transition ends.
        attachments = tuple(dict.fromkeys(_attachment(a) for a in m.attachments))
        if m.is_unsupported:
            content_type = "unsupported"
        elif attachments:
            content_type = attachments[0].kind
        else:
            content_type = "text" if m.text else "unsupported"
        return InboundMessage(
            event_id=uuid4(),
            channel=self.channel,
            account_external_id=account,
            sender_external_id=customer,
            provider_message_id=m.mid,
            sent_at=sent_at,
            received_at=received_at,
            content_type=content_type,
            text=m.text,
            attachments=attachments,
            reply_to_provider_message_id=m.reply_to.mid if m.reply_to else None,
        )

    def _postback(
        self, account: str, customer: str, p: _Postback, sent_at: datetime, received_at: datetime
    ) -> InboundMessage:
        return InboundMessage(
            event_id=uuid4(),
            channel=self.channel,
            account_external_id=account,
            sender_external_id=customer,
            provider_message_id=p.mid or f"postback:{customer}:{int(sent_at.timestamp() * 1000)}",
            sent_at=sent_at,
            received_at=received_at,
            content_type="postback",
            text=p.title,
        )

    def _receipt(
        self, account: str, customer: str, mid: str, status: DeliveryState, at: datetime, received_at: datetime
    ) -> DeliveryStatus:
        return DeliveryStatus(
            event_id=uuid4(),
            channel=self.channel,
            account_external_id=account,
            recipient_external_id=customer,
            provider_message_id=mid,
            status=status,
            occurred_at=at,
            received_at=received_at,
        )


def _attachment(a: _Attachment) -> Attachment:
    payload = a.payload or _AttachmentPayload()
    if a.type == "location" and payload.coordinates is not None:
        where = payload.coordinates
        return Attachment(kind="location", url=f"geo:{where.lat},{where.long}", caption=payload.title)
    kind = "sticker" if payload.sticker_id is not None else _KINDS.get(a.type, a.type)
    return Attachment(kind=kind, url=payload.url, caption=payload.title)


def _sent_at(event: _Event) -> datetime:
    if event.timestamp is None:
        raise PayloadError("timestamp: a message carries the time it was sent")
    return _instant(event.timestamp)


def _instant(value: int) -> datetime:
    # Meta's timestamps are milliseconds, but some of its documented examples (postbacks) use seconds:
    # a value below 10^11 would be a millisecond time in 1973.
    return from_unix_millis(value * 1000 if value < 10**11 else value, "timestamp")
