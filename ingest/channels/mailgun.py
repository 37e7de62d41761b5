"""Mailgun webhooks: inbound email from a Route's `forward()`, and event webhooks for our replies.

`POST /webhooks/mailgun` takes both, told apart by content type. A Route forward is
`application/x-www-form-urlencoded`, or `multipart/form-data` when the email has attachments, one email
per POST (documentation.mailgun.com/docs/mailgun/user-manual/receive-forward-store/receive-http); files
arrive as `attachment-1` .. `attachment-<attachment-count>`, as django-anymail reads them
(anymail/webhooks/mailgun.py). An event webhook is `application/json`: see ingest/mailgun_events.py.

An email becomes one message:
- account: the `recipient` mailbox, matched case-insensitively to a configured account's spelling;
- sender: the bare, lower-cased address of the `from` header, else of the envelope `sender` (MAIL FROM
  may be a bounce address, SRS or VERP, that no person reads); its display name is the sender name;
- provider message id: the Message-Id header, angle brackets kept; without one, a hash of the POST's
  `token`, so such an email redelivered is stored twice (its token is new each time);
- text: `stripped-text` (the reply without quotes and signature), else `body-plain`, else the subject;
- attachments: kind by content type, filename and MIME type. Their bytes are dropped: storing them
  (object storage, then `Attachment.url`) is where the content would go;
- channel_data: `subject`, `message_id` and `references` (the References header, else In-Reply-To):
  what a reply needs to thread (RFC 5322 section 3.6.4);
- an email from one of our own mailboxes is our own send coming back (a Bcc, a route catching outgoing
  mail): it is dropped, not stored as the customer's.
"""

import hashlib
import re
import time
from collections.abc import Callable
from datetime import datetime
from email.header import decode_header, make_header
from email.utils import parseaddr
from typing import Any
from uuid import uuid4

import orjson
from fastapi import Response
from fastapi.responses import JSONResponse

from ingest.errors import LedgerUnavailable, PayloadError, SignatureError
from ingest.form_data import FormBody, FormError, FormFile, is_form, parse_form
from ingest.mailgun_events import parse_event
from ingest.mailgun_signature import TokenLedger, claim_token, verify_signature
from ingest.timestamps import from_unix_seconds
from ingest.webhook import WebhookRequest
from schemas.inbound import Attachment, DeliveryStatus, InboundMessage
from services.accounts import ChannelAccount

_ATTACHMENT_FIELD = re.compile(r"attachment-(\d+)")
_MEDIA_KINDS = ("image", "video", "audio")


class MailgunWebhook:
    """`POST /webhooks/mailgun`: Mailgun-signed Route forwards and event webhooks."""

    def __init__(
        self,
        signing_key: bytes,
        accounts: tuple[ChannelAccount, ...],
        max_age_s: float,
        ledger: TokenLedger | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._signing_key = signing_key
        self._max_age_s = max_age_s
        self._clock = clock
        self._ledger = ledger
        self._mailboxes = {a.external_id.lower(): a.external_id for a in accounts if a.channel == "mailgun"}

    def verify(self, request: WebhookRequest) -> None:
        timestamp, token, signature = _signature_fields(request)
        verify_signature(self._signing_key, timestamp, token, signature, now=self._clock(), max_age_s=self._max_age_s)

    async def admit(self, request: WebhookRequest) -> None:
        """Claim the verified signature's token in the shared ledger: a second use is a replay (401)."""
        timestamp, token, signature = _signature_fields(request)
        signed_at = verify_signature(
            self._signing_key, timestamp, token, signature, now=self._clock(), max_age_s=self._max_age_s
        )
        if self._ledger is None:  # without a ledger a replay cannot be told from a first use: refuse both
            raise LedgerUnavailable("no replay ledger is configured for Mailgun")
        await claim_token(self._ledger, token, signed_at, self._max_age_s)

    def parse(self, request: WebhookRequest, received_at: datetime) -> list[InboundMessage | DeliveryStatus]:
        if _media_type(request) == "application/json":
            receipt = parse_event(request.raw_body, self._mailbox, received_at)
            return [] if receipt is None else [receipt]
        try:
            form = parse_form(request.headers.get("content-type", ""), request.raw_body)
        except FormError as error:
            raise PayloadError(str(error)) from error
        message = self._email(form, received_at)
        return [] if message is None else [message]

    def acknowledge(self, accepted: int) -> Response:
        return JSONResponse({"accepted": accepted})

    def _mailbox(self, address: str) -> str:
        return self._mailboxes.get(address, address)

    def _email(self, form: FormBody, received_at: datetime) -> InboundMessage | None:
        fields = form.fields
        recipient = _address(fields.get("recipient", ""))
        if "@" not in recipient:
            raise PayloadError("recipient: no mailbox address")
        sender_name, sender = _sender(fields)
        if sender in self._mailboxes or sender == recipient:
            return None  # our own send coming back
        headers = _headers(fields.get("message-headers", "[]"))
        subject = fields.get("subject") or headers.get("subject", "")
        message_id = headers.get("message-id", "").strip()
        in_reply_to = _one_line(headers.get("in-reply-to", ""))
        attachments = _attachments(form.files)
        text = fields.get("stripped-text", "").strip() or fields.get("body-plain", "").strip() or subject.strip()
        return InboundMessage(
            event_id=uuid4(),
            channel="mailgun",
            account_external_id=self._mailbox(recipient),
            sender_external_id=sender,
            sender_name=sender_name,
            provider_message_id=message_id or _token_id(fields.get("token", "")),
            sent_at=_unix_time(fields.get("timestamp", "")),
            received_at=received_at,
            content_type="text" if text or not attachments else attachments[0].kind,
            text=text or None,
            attachments=attachments,
            reply_to_provider_message_id=in_reply_to or None,
            channel_data={
                "subject": subject,
                "message_id": message_id,
                "references": _one_line(headers.get("references", "")) or in_reply_to,
            },
        )


def _signature_fields(request: WebhookRequest) -> tuple[str, str, str]:
    content_type = request.headers.get("content-type", "")
    if _media_type(request) == "application/json":
        try:
            body: Any = orjson.loads(request.raw_body)
        except orjson.JSONDecodeError as error:
            raise SignatureError("body is not JSON, so it carries no Mailgun signature") from error
        block = body.get("signature") if isinstance(body, dict) else None
        if not isinstance(block, dict):
            raise SignatureError("missing Mailgun signature object")
        timestamp, token, signature = (str(block.get(key) or "") for key in ("timestamp", "token", "signature"))
        return timestamp, token, signature
    if not is_form(content_type):
        raise SignatureError(f"content type {content_type or 'none'!r} carries no Mailgun signature")
    try:
        fields = parse_form(content_type, request.raw_body).fields
    except FormError as error:
        raise SignatureError(f"no Mailgun signature in an unreadable form: {error}") from error
    return fields.get("timestamp", ""), fields.get("token", ""), fields.get("signature", "")


def _media_type(request: WebhookRequest) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _sender(fields: dict[str, str]) -> tuple[str | None, str]:
    name, address = parseaddr(fields.get("from", ""))
    if "@" not in address:
        name, address = parseaddr(fields.get("sender", ""))
    if "@" not in address:
        raise PayloadError("from: no sender address in the from or sender field")
    return _decoded(name) or None, address.lower()


def _address(value: str) -> str:
    return parseaddr(value)[1].strip().lower()


def _decoded(name: str) -> str:
    # Header values are passed on as they were: a display name may still be RFC 2047 encoded.
    try:
        return str(make_header(decode_header(name))).strip()
    except (LookupError, UnicodeDecodeError, ValueError):
        return name.strip()


def _headers(raw: str) -> dict[str, str]:
    """The email's headers by lower-cased name (the first of a repeated one), from `message-headers`."""
    try:
        pairs = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise PayloadError("message-headers: not JSON") from error
    if not isinstance(pairs, list) or not all(
        isinstance(pair, list) and len(pair) == 2 and all(isinstance(part, str) for part in pair) for pair in pairs
    ):
        raise PayloadError("message-headers: not a list of [name, value] pairs")
    headers: dict[str, str] = {}
    for name, value in pairs:
        headers.setdefault(name.lower(), value)
    return headers


def _one_line(value: str) -> str:
    # References may be folded over several lines; single spaces between ids is its unfolded form.
    return " ".join(value.split())


def _attachments(files: dict[str, FormFile]) -> tuple[Attachment, ...]:
    numbered = sorted(
        (
            (int(match.group(1)), file)
            for name, file in files.items()
            if (match := _ATTACHMENT_FIELD.fullmatch(name)) is not None
        ),
        key=lambda numbered_file: numbered_file[0],
    )
    return tuple(
        Attachment(kind=_kind(file.content_type), filename=file.filename, mime_type=file.content_type)
        for _, file in numbered
    )


def _kind(content_type: str) -> str:
    major = content_type.split("/", 1)[0].lower()
    return major if major in _MEDIA_KINDS else "document"


def _token_id(token: str) -> str:
    if not token:
        raise PayloadError("token: missing, and there is no Message-Id to name the email by")
    return "mailgun-token:" + hashlib.sha256(token.encode()).hexdigest()[:40]


def _unix_time(value: str) -> datetime:
    try:
        seconds = int(value)
    except ValueError as error:
        raise PayloadError(f"timestamp is not Unix seconds: {value[:40]!r}") from error
    return from_unix_seconds(seconds, "timestamp")
