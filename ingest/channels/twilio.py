"""Twilio Programmable Messaging webhooks: incoming SMS/MMS and WhatsApp messages, and status callbacks.

Twilio posts one message or one status change per request, form-encoded, and expects TwiML back
(twilio.com/docs/messaging/guides/webhook-request). There is no batching: an MMS carries up to ten media
(`NumMedia`, `MediaUrl{N}`, `MediaContentType{N}`), each becoming one attachment; its URL is fetched with
HTTP Basic (AccountSid, auth token). Incoming messages carry no timestamp, so `sent_at` is when we received it.

Status callbacks arrive at this same URL because the dispatcher names it as each reply's `StatusCallback`
(twilio.com/docs/messaging/guides/outbound-message-status-in-status-callbacks). They carry
`MessageStatus`; an incoming message carries `SmsStatus=received` and no `MessageStatus`.

Accounts and customers are bare ids, the `whatsapp:` prefix going to `channel_data` (see schemas/twilio.py).
The account is `To` for a message and `From` for a status callback. Twilio never posts our own sends here;
the one way our message can arrive is one of our numbers texting another, which is ignored like an echo
so two accounts cannot answer each other forever.
"""

from datetime import datetime
from urllib.parse import parse_qsl, urlsplit
from uuid import uuid4

from fastapi import Response

from ingest import twilio_signature
from ingest.errors import PayloadError, SignatureError
from ingest.webhook import WebhookRequest
from schemas import twilio as address
from schemas.inbound import Attachment, DeliveryError, DeliveryState, DeliveryStatus, InboundMessage
from services.accounts import ChannelAccount, accounts_on

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'
# queued/accepted/scheduled/sending/canceled say nothing about delivery; undelivered is a carrier's failure.
_STATUS_MAP: dict[str, DeliveryState] = {
    "sent": "sent",
    "delivered": "delivered",
    "read": "read",
    "failed": "failed",
    "undelivered": "failed",
}
_INBOUND_STATUSES = ("receiving", "received")
_MEDIA_KINDS = ("image", "video", "audio")
_MAX_MEDIA = 10
# Twilio sends a few dozen parameters (ten media add twenty); more is not Twilio.
_MAX_FIELDS = 200


class TwilioWebhook:
    """`POST /webhooks/twilio`: Twilio-signed incoming messages and status callbacks."""

    def __init__(self, auth_token: str, accounts: tuple[ChannelAccount, ...], public_base_url: str | None) -> None:
        self._auth_token = auth_token
        self._accounts = {account.external_id: account for account in accounts_on(accounts, "twilio")}
        self._public_base_url = public_base_url.rstrip("/") if public_base_url else None

    def verify(self, request: WebhookRequest) -> None:
        signature = request.headers.get("x-twilio-signature")
        if not signature:
            raise SignatureError("missing X-Twilio-Signature header")
        try:
            params = _form(request.raw_body)
        except PayloadError as error:
            raise SignatureError(f"cannot check the signature: {error.detail}") from error
        token = self._token_for(dict(params))
        if not token:
            raise SignatureError("no Twilio auth token is configured for this account")
        if not twilio_signature.is_valid(token, self.signed_url(request.url), params, signature):
            raise SignatureError("X-Twilio-Signature does not match the URL and parameters")

    def parse(self, request: WebhookRequest, received_at: datetime) -> list[InboundMessage | DeliveryStatus]:
        params = dict(_form(request.raw_body))
        if _is_status_callback(params):
            status = _status(params, received_at)
            return [status] if status is not None else []
        if address.split_address(_required(params, "From"))[1] in self._accounts:
            return []  # one of our numbers wrote: our own message, not a customer's
        return [_message(params, self.signed_url(request.url), received_at)]

    def acknowledge(self, accepted: int) -> Response:
        return Response(EMPTY_TWIML, media_type="text/xml")

    def signed_url(self, url: str) -> str:
        """The URL Twilio called: the public base's, when ingest sits behind a proxy that rewrites it."""
        if self._public_base_url is None:
            return url
        parts = urlsplit(url)
        return self._public_base_url + parts.path + (f"?{parts.query}" if parts.query else "")

    def _token_for(self, params: dict[str, str]) -> str:
        # Each Twilio (sub)account signs with its own auth token; the account is on the side that is ours.
        ours = params.get("From" if _is_status_callback(params) else "To", "")
        account = self._accounts.get(address.split_address(ours)[1])
        if account is None:
            return self._auth_token
        own = account.webhook_secret.get_secret_value() or account.access_token.get_secret_value()
        return own or self._auth_token


def _form(raw_body: bytes) -> list[tuple[str, str]]:
    try:
        return parse_qsl(raw_body.decode(), keep_blank_values=True, errors="strict", max_num_fields=_MAX_FIELDS)
    except UnicodeDecodeError as error:
        raise PayloadError("body is not form-encoded UTF-8") from error
    except ValueError as error:  # parse_qsl's own bound on the number of fields
        raise PayloadError(f"body has more than {_MAX_FIELDS} parameters") from error


def _is_status_callback(params: dict[str, str]) -> bool:
    return params.get("MessageStatus", "received") not in _INBOUND_STATUSES


def _required(params: dict[str, str], name: str) -> str:
    value = params.get(name)
    if not value:
        raise PayloadError(f"{name}: missing")
    return value


def _message(params: dict[str, str], webhook_url: str, received_at: datetime) -> InboundMessage:
    variant, sender = address.split_address(_required(params, "From"))
    _, account = address.split_address(_required(params, "To"))
    text, attachments, content_type = _content(params)
    return InboundMessage(
        event_id=uuid4(),
        channel="twilio",
        account_external_id=account,
        sender_external_id=sender,
        sender_name=params.get("ProfileName") or None,
        provider_message_id=_required(params, "MessageSid"),
        sent_at=received_at,
        received_at=received_at,
        content_type=content_type,
        text=text,
        attachments=attachments,
        # WhatsApp replies quote the message they answer (Twilio's WhatsApp inbound parameters).
        reply_to_provider_message_id=params.get("OriginalRepliedMessageSid") or None,
        channel_data={address.VARIANT: variant, address.STATUS_CALLBACK: webhook_url},
    )


def _content(params: dict[str, str]) -> tuple[str | None, tuple[Attachment, ...], str]:
    body = params.get("Body") or None
    if params.get("MessageType") == "location":
        return _location(params)
    attachments = _media(params)
    if attachments:
        return body, attachments, attachments[0].kind
    return body, (), "text" if body is not None else "unsupported"


def _media(params: dict[str, str]) -> tuple[Attachment, ...]:
    count = params.get("NumMedia", "0") or "0"
    if not count.isdigit() or int(count) > _MAX_MEDIA:
        raise PayloadError(f"NumMedia: not a count of 0 to {_MAX_MEDIA}: {count!r}")
    attachments: list[Attachment] = []
    for n in range(int(count)):
        url = _required(params, f"MediaUrl{n}")
        mime_type = params.get(f"MediaContentType{n}") or None
        major = (mime_type or "").partition("/")[0]
        attachments.append(
            Attachment(kind=major if major in _MEDIA_KINDS else "document", url=url, mime_type=mime_type)
        )
    return tuple(attachments)


def _location(params: dict[str, str]) -> tuple[str | None, tuple[Attachment, ...], str]:
    try:
        latitude, longitude = float(_required(params, "Latitude")), float(_required(params, "Longitude"))
    except ValueError as error:
        raise PayloadError("Latitude/Longitude: not numbers") from error
    label = ", ".join(part for part in (params.get("Label"), params.get("Address")) if part) or None
    return label, (Attachment(kind="location", url=f"geo:{latitude},{longitude}"),), "location"


def _status(params: dict[str, str], received_at: datetime) -> DeliveryStatus | None:
    state = _STATUS_MAP.get(params["MessageStatus"])
    if state is None:
        return None
    code = params.get("ErrorCode")
    return DeliveryStatus(
        event_id=uuid4(),
        channel="twilio",
        account_external_id=address.split_address(_required(params, "From"))[1],
        recipient_external_id=address.split_address(_required(params, "To"))[1],
        provider_message_id=_required(params, "MessageSid"),
        status=state,
        occurred_at=received_at,  # status callbacks carry no time of the change
        received_at=received_at,
        errors=(DeliveryError(code=code, detail=params.get("ErrorMessage") or None),) if code else (),
    )
