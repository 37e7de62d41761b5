"""What the router publishes when a conversation gets (or loses) an agent."""

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

from schemas.base import WireModel


class AssignmentEvent(WireModel):
    """A committed change of a conversation's assignee; published only after the transaction committed."""

    type: Literal["assignment"] = "assignment"
    conversation_id: UUID
    agent_id: UUID
    assigned_at: datetime
    received_at: datetime  # the webhook that opened the conversation
    reason: Literal["new_conversation", "from_queue", "transfer"]


ReleaseReason = Literal["transfer", "logged_off", "heartbeat_timeout"]


class ReleaseEvent(WireModel):
    """A conversation taken from `agent_id`, after the transaction committed: transferred to another agent
    or the queue, released when the agent logged off, or when their heartbeat timeout's grace ran out."""

    type: Literal["release"] = "release"
    conversation_id: UUID
    agent_id: UUID
    released_at: datetime
    reason: ReleaseReason


class DeliveryUnknownEvent(WireModel):
    """A reply whose send outcome is unknown (the provider may or may not have it), told to the conversation's
    agent so they can check with the customer; written to the outbox with the state change it announces."""

    type: Literal["delivery_unknown"] = "delivery_unknown"
    message_id: UUID
    conversation_id: UUID
    agent_id: UUID  # the conversation's assignee when the outcome became unknown
    channel: str
    detail: str
    occurred_at: datetime


# The assignments topic carries these, keyed by the agent whose screen they change.
AssigneeChange = Annotated[AssignmentEvent | ReleaseEvent | DeliveryUnknownEvent, Field(discriminator="type")]
