"""Mailgun's event webhooks as receipts for the replies we sent by email.

`{"signature": {...}, "event-data": {...}}` as application/json (documentation.mailgun.com/docs/mailgun/
user-manual/webhooks/webhook-payloads; the mapping follows django-anymail, anymail/webhooks/mailgun.py).
Events name a message by its Message-ID, so they are receipts for our replies when the SMTP relay is
Mailgun's: `delivered`, `opened` (read), and a permanent `failed` or `rejected`. A temporary failure is
dropped because Mailgun keeps retrying it; other events (clicked, complained...) concern no reply.
"""

from collections.abc import Callable
from datetime import datetime
from email.utils import parseaddr
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ingest.errors import PayloadError
from ingest.timestamps import from_unix_seconds
from schemas.inbound import DeliveryError, DeliveryState, DeliveryStatus


class _Lenient(BaseModel):
    # Mailgun adds fields without notice ("we do not recommend hardcoding the fields"): only ours are read.
    model_config = ConfigDict(extra="ignore", frozen=True)


class _Headers(_Lenient):
    message_id: str | None = Field(default=None, alias="message-id")
    sender: str | None = Field(default=None, alias="from")


class _Message(_Lenient):
    headers: _Headers = _Headers()


class _Envelope(_Lenient):
    sender: str | None = None


class _DeliveryStatus(_Lenient):
    code: int | str | None = None
    message: str | None = None
    description: str | None = None


class _EventData(_Lenient):
    event: str
    timestamp: float
    recipient: str = ""
    severity: str | None = None
    reason: str | None = None
    message: _Message = _Message()
    envelope: _Envelope = _Envelope()
    delivery_status: _DeliveryStatus | None = Field(default=None, alias="delivery-status")


class _Event(_Lenient):
    event_data: _EventData = Field(alias="event-data")


def parse_event(raw_body: bytes, mailbox: Callable[[str], str], received_at: datetime) -> DeliveryStatus | None:
    """The receipt an event webhook carries, or None for an event that is not one.

    `mailbox` maps the sending address to the account's configured spelling.
    """
    try:
        data = _Event.model_validate_json(raw_body).event_data
    except ValidationError as error:
        raise PayloadError.invalid(error) from error
    status = _status(data)
    message_id = (data.message.headers.message_id or "").strip()
    if status is None or not message_id:
        return None
    sender = parseaddr(data.envelope.sender or data.message.headers.sender or "")[1].lower()
    return DeliveryStatus(
        event_id=uuid4(),
        channel="mailgun",
        account_external_id=mailbox(sender),
        recipient_external_id=parseaddr(data.recipient)[1].lower(),
        # Events name the message without the angle brackets its header (and our record of it) has.
        provider_message_id=message_id if message_id.startswith("<") else f"<{message_id}>",
        status=status,
        occurred_at=from_unix_seconds(data.timestamp, "event-data.timestamp"),
        received_at=received_at,
        errors=_errors(data) if status == "failed" else (),
    )


def _status(data: _EventData) -> DeliveryState | None:
    if data.event == "delivered":
        return "delivered"
    if data.event == "opened":
        return "read"
    if data.event == "rejected" or (data.event == "failed" and data.severity == "permanent"):
        return "failed"
    return None


def _errors(data: _EventData) -> tuple[DeliveryError, ...]:
    status = data.delivery_status or _DeliveryStatus()
    code = str(status.code) if status.code not in (None, "", 0) else data.reason or data.event
    return (DeliveryError(code=code, title=data.reason, detail=status.message or status.description or None),)
