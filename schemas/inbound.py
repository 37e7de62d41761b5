"""What ingest publishes to the inbound topic: a customer's message, or a receipt for one of ours."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

from schemas.base import WireModel

Channel = Literal["whatsapp", "messenger", "instagram", "twilio", "line", "telegram", "mailgun", "webchat"]
DeliveryState = Literal["sent", "delivered", "read", "failed"]


class Attachment(WireModel):
    """Media normalised across channels: a URL or a provider media id, never the bytes."""

    kind: str  # image, video, audio, document, sticker, location, ...
    url: str | None = None
    provider_media_id: str | None = None
    mime_type: str | None = None
    filename: str | None = None
    caption: str | None = None


class InboundMessage(WireModel):
    """One message a customer sent on a channel, as ingest accepted it."""

    type: Literal["inbound_message"] = "inbound_message"
    event_id: UUID
    channel: Channel
    account_external_id: str  # the provider's id of our account it arrived on (WhatsApp phone_number_id)
    sender_external_id: str  # the customer's id on that channel (WhatsApp wa_id)
    sender_name: str | None = None
    provider_message_id: str
    sent_at: datetime  # the provider's timestamp
    received_at: datetime  # when our webhook accepted it; assignment latency is measured from here
    content_type: str  # text, image, ...; "unsupported" when the provider could not deliver the content
    text: str | None = None
    attachments: tuple[Attachment, ...] = ()
    reply_to_provider_message_id: str | None = None
    # What a reply on this channel needs from the message it answers, kept with the message: LINE's
    # `reply_token`, Telegram's `chat_id`, an email's `subject` and `references`... Empty for most.
    channel_data: dict[str, str] = Field(default_factory=dict)


class DeliveryError(WireModel):
    """The provider's reason a message could not be delivered."""

    code: str
    title: str | None = None
    detail: str | None = None


class DeliveryStatus(WireModel):
    """A provider's receipt for a message we sent: sent, delivered, read or failed."""

    type: Literal["delivery_status"] = "delivery_status"
    event_id: UUID
    channel: Channel
    account_external_id: str
    recipient_external_id: str
    provider_message_id: str
    status: DeliveryState
    occurred_at: datetime
    received_at: datetime
    errors: tuple[DeliveryError, ...] = ()


InboundEvent = Annotated[InboundMessage | DeliveryStatus, Field(discriminator="type")]
