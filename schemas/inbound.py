"""What ingest publishes to the inbound topic: a customer's message, or a receipt for one of ours.

Every string is made storable as it is validated, whichever channel it came from: PostgreSQL's text and
jsonb cannot hold U+0000 (`\\u0000 cannot be converted to text` fails the router's whole batch), so NULs
are dropped; a lone surrogate cannot be encoded as UTF-8 (orjson refuses it), so it becomes U+FFFD.
Nothing else is changed: what the customer wrote is kept as they wrote it. Lengths are bounded so an
event fits a Kafka record and its ids fit PostgreSQL's btree indexes, and times fall in a range every
hop can do arithmetic on; a provider's value outside these bounds is refused, never truncated.
"""

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import AfterValidator, BeforeValidator, Field

from schemas.base import WireModel

Channel = Literal["whatsapp", "messenger", "instagram", "twilio", "line", "telegram", "mailgun", "webchat"]
DeliveryState = Literal["sent", "delivered", "read", "failed"]

_SURROGATE = re.compile("[\ud800-\udfff]")
# A btree index entry holds at most ~2,700 bytes; an id is kept well under that with its channel beside it.
MAX_ID_BYTES = 1024
MAX_TEXT_CHARS = 256 * 1024  # a long email; the Kafka record limit is checked on the encoded event too
MAX_FIELD_CHARS = 8192  # names, URLs, file names, MIME types, channel data
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)  # far from datetime.max, so a reply window can be added to it


def storable(value: str) -> str:
    """`value` without NULs and with lone surrogates replaced by U+FFFD; everything else unchanged."""
    if "\x00" not in value and (value.isascii() or _SURROGATE.search(value) is None):
        return value  # the common case, decided without a regex for ASCII text
    value = value.replace("\x00", "")
    # A surrogate pair split into two code points is joined back into its character; a lone one is replaced.
    return value.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")


def _storable_input(value: Any) -> Any:
    # Before pydantic's own str check, which refuses a lone surrogate outright.
    return storable(value) if isinstance(value, str) else value


def _id(value: str) -> str:
    if len(value) > MAX_ID_BYTES // 4 and len(value.encode()) > MAX_ID_BYTES:
        raise ValueError(f"an id is at most {MAX_ID_BYTES} bytes of UTF-8")
    return value


def _in_range(value: datetime) -> datetime:
    if not EARLIEST <= value < LATEST:
        raise ValueError(f"a time between {EARLIEST.year} and {LATEST.year}")
    return value


Id = Annotated[str, BeforeValidator(_storable_input), AfterValidator(_id)]
Text = Annotated[str, BeforeValidator(_storable_input), Field(max_length=MAX_TEXT_CHARS)]
Short = Annotated[str, BeforeValidator(_storable_input), Field(max_length=MAX_FIELD_CHARS)]
Instant = Annotated[datetime, AfterValidator(_in_range)]


class Attachment(WireModel):
    """Media normalised across channels: a URL or a provider media id, never the bytes."""

    kind: Annotated[str, BeforeValidator(_storable_input), Field(max_length=64)]  # image, video, audio, document, ...
    url: Short | None = None
    provider_media_id: Id | None = None
    mime_type: Short | None = None
    filename: Short | None = None
    caption: Text | None = None


class InboundMessage(WireModel):
    """One message a customer sent on a channel, as ingest accepted it."""

    type: Literal["inbound_message"] = "inbound_message"
    event_id: UUID
    channel: Channel
    account_external_id: Id  # the provider's id of our account it arrived on (WhatsApp phone_number_id)
    sender_external_id: Id  # the customer's id on that channel (WhatsApp wa_id)
    sender_name: Short | None = None
    provider_message_id: Id
    sent_at: Instant  # the provider's timestamp
    received_at: Instant  # when our webhook accepted it; assignment latency is measured from here
    content_type: Annotated[str, Field(max_length=64)]  # text, image, ...; "unsupported" when undeliverable
    text: Text | None = None
    attachments: Annotated[tuple[Attachment, ...], Field(max_length=100)] = ()
    reply_to_provider_message_id: Id | None = None
    # What a reply on this channel needs from the message it answers, kept with the message: LINE's
    # `reply_token`, Telegram's `chat_id`, an email's `subject` and `references`... Empty for most.
    channel_data: Annotated[dict[Short, Text], Field(max_length=32)] = Field(default_factory=dict)


class DeliveryError(WireModel):
    """The provider's reason a message could not be delivered."""

    code: Short
    title: Short | None = None
    detail: Text | None = None


class DeliveryStatus(WireModel):
    """A provider's receipt for a message we sent: sent, delivered, read or failed."""

    type: Literal["delivery_status"] = "delivery_status"
    event_id: UUID
    channel: Channel
    account_external_id: Id
    recipient_external_id: Id
    provider_message_id: Id
    status: DeliveryState
    occurred_at: Instant
    received_at: Instant
    errors: Annotated[tuple[DeliveryError, ...], Field(max_length=100)] = ()


InboundEvent = Annotated[InboundMessage | DeliveryStatus, Field(discriminator="type")]
