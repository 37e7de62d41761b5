"""What the router publishes for the dispatcher: a reply to send through a channel."""

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field

from schemas.base import WireModel
from schemas.inbound import Channel


class OutboundMessage(WireModel):
    """A stored reply waiting to be sent; `message_id` is its row, so a replayed record sends nothing twice."""

    type: Literal["outbound_message"] = "outbound_message"
    message_id: UUID
    conversation_id: UUID
    channel: Channel
    account_external_id: str
    recipient_external_id: str
    text: str
    author: Literal["agent", "bot"]
    created_at: datetime
    # The customer's last message on this channel: channel rules (WhatsApp's 24-hour window) count from it.
    customer_last_message_at: datetime | None
    reply_to_provider_message_id: str | None = None
    # The `channel_data` of the customer's last message: what this channel's reply needs (reply token,
    # chat id, email threading headers).
    reply_context: dict[str, str] = Field(default_factory=dict)


class DeadLetter(WireModel):
    """A reply the dispatcher gave up on, with why, for an operator to inspect or replay."""

    type: Literal["dead_letter"] = "dead_letter"
    message: OutboundMessage
    reason: str  # retries_exhausted, rejected, channel_rule (the error code says which), unknown_account
    detail: str
    attempts: int
    failed_at: datetime
