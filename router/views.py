"""What the agent/admin API answers: request bodies and response shapes."""

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar
from uuid import UUID

import asyncpg
from pydantic import BaseModel, ConfigDict, Field, model_validator

from schemas.delivery import OutboundStatus

T = TypeVar("T")


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class NewAgent(_View):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str = Field(min_length=1, max_length=200)
    skills: list[str] = []
    languages: list[str] = []
    max_pending: int = Field(default=5, ge=0, le=1000)


class PresenceUpdate(_View):
    model_config = ConfigDict(frozen=True, extra="forbid")
    status: Literal["online", "away", "offline"]


class NewReply(_View):
    model_config = ConfigDict(frozen=True, extra="forbid")
    text: str = Field(min_length=1, max_length=4096)
    # "Send and resolve": the reply is queued first, then the conversation closed, in one call.
    resolve: bool = False


class TransferRequest(_View):
    """Where a conversation goes: `{"to_agent_id": ...}` or `{"to": "queue"}`, exactly one."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    to_agent_id: UUID | None = None
    to: Literal["queue"] | None = None

    @model_validator(mode="after")
    def _one_destination(self) -> "TransferRequest":
        if (self.to_agent_id is None) == (self.to is None):
            raise ValueError('give exactly one of "to_agent_id" and "to": "queue"')
        return self


class NewNote(_View):
    model_config = ConfigDict(frozen=True, extra="forbid")
    text: str = Field(min_length=1, max_length=4096)


class AgentView(_View):
    id: UUID
    name: str
    status: str
    pending: int
    max_pending: int
    skills: list[str]
    languages: list[str]
    last_assigned_at: datetime | None
    created_at: datetime
    status_changed_at: datetime
    last_seen_at: datetime  # the last heartbeat or presence change
    offline_reason: str | None  # when offline: logged_off or heartbeat_timeout

    @classmethod
    def of(cls, row: asyncpg.Record) -> "AgentView":
        return cls.model_validate(dict(row))


class CreatedAgent(AgentView):
    token: str  # shown once; only its hash is stored


class AccountView(_View):
    id: UUID
    channel: str
    external_id: str
    name: str


class ConversationView(_View):
    id: UUID
    contact_id: UUID
    channel: str
    account_external_id: str
    status: str
    assignee_id: UUID | None
    priority: int
    received_at: datetime
    waiting_since: datetime
    last_inbound_at: datetime | None
    assigned_at: datetime | None
    resolved_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, row: asyncpg.Record) -> "ConversationView":
        return cls.model_validate(dict(row))


class MessageView(_View):
    id: UUID
    conversation_id: UUID
    direction: str
    channel: str
    external_id: str
    provider_message_id: str | None
    author_agent_id: UUID | None
    content_type: str
    text: str | None
    attachments: list[dict[str, Any]]
    sent_at: datetime | None
    received_at: datetime | None
    created_at: datetime
    delivery_status: OutboundStatus | None
    delivery_error: dict[str, Any] | None


class ContactView(_View):
    id: UUID
    display_name: str | None
    identities: list[dict[str, str]]
    created_at: datetime


class ConversationDetail(ConversationView):
    contact: ContactView
    messages: list[MessageView]


class AcceptedReply(_View):
    id: UUID
    status: str = "pending"
    resolved: bool = False  # true when `resolve` was asked for and this call closed the conversation


class AssignedEvent(_View):
    """An agent's live event: a conversation is now theirs."""

    conversation_id: UUID
    agent_id: UUID
    assigned_at: datetime
    reason: str


class ReleasedEvent(_View):
    """An agent's live event: a conversation is no longer theirs (transferred, or released when they went
    offline), so their screen can drop it."""

    conversation_id: UUID
    agent_id: UUID
    released_at: datetime
    reason: str


class Items(_View, Generic[T]):
    items: list[T]
