"""What the agent/admin API answers: request bodies and response shapes.

Every field a caller sends is bounded (length, count, range) and must be storable: PostgreSQL's text
cannot hold NUL, and UTF-8 cannot hold a lone surrogate, so both are a 422 here rather than a database
error later. Names and labels are one line, without control characters.
"""

import unicodedata
from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar
from uuid import UUID

import asyncpg
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from schemas.delivery import OutboundStatus

T = TypeVar("T")

NAME_MAX = 200
LABEL_MAX = 64
EXTERNAL_ID_MAX = 320  # an email address, the longest external id a channel has
TEXT_MAX = 4096  # a reply, a note, a template
LIST_MAX = 50


def storable_text(value: str) -> str:
    """Text PostgreSQL can store: no NUL, and valid UTF-8 (no lone surrogate, which JSON's \\ud800 can make)."""
    if "\x00" in value:
        raise ValueError("NUL characters are not allowed")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("lone surrogates are not text") from None
    return value


def one_line(value: str) -> str:
    """A name or label: no control characters at all (no NUL, newline, escape, bidi override)."""
    storable_text(value)
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in value):
        raise ValueError("control and format characters are not allowed")
    if not value.strip():
        raise ValueError("must not be blank")
    return value


Text = Annotated[str, StringConstraints(min_length=1, max_length=TEXT_MAX), AfterValidator(storable_text)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=NAME_MAX), AfterValidator(one_line)]
Label = Annotated[str, StringConstraints(min_length=1, max_length=LABEL_MAX), AfterValidator(one_line)]
ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=EXTERNAL_ID_MAX), AfterValidator(one_line)]
# BCP 47, as short as the team's settings write them: "en", "pt-BR", "zh-Hant".
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}$")]
ConversationStatus = Literal["bot", "queued", "assigned", "resolved"]


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class NewAgent(_View):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: Name
    skills: list[Label] = Field(default=[], max_length=LIST_MAX)
    languages: list[LanguageCode] = Field(default=[], max_length=LIST_MAX)
    max_pending: int = Field(default=5, ge=0, le=1000)


class PresenceUpdate(_View):
    model_config = ConfigDict(frozen=True, extra="forbid")
    status: Literal["online", "away", "offline"]


class NewReply(_View):
    model_config = ConfigDict(frozen=True, extra="forbid")
    text: Text
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
    text: Text


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
