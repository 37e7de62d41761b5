"""What the router publishes when a conversation gets (or loses) an agent."""

from datetime import datetime
from typing import Literal
from uuid import UUID

from schemas.base import WireModel


class AssignmentEvent(WireModel):
    """A committed change of a conversation's assignee; published only after the transaction committed."""

    type: Literal["assignment"] = "assignment"
    conversation_id: UUID
    agent_id: UUID
    assigned_at: datetime
    received_at: datetime  # the webhook that opened the conversation
    reason: Literal["new_conversation", "from_queue"]
