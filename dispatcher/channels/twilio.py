"""Sending through Twilio's Messages API: `POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`.

HTTP Basic with the AccountSid (the account's `api_user`) and its auth token (`access_token`); a
form-encoded `To`, `From`, `Body`, and `StatusCallback` so Twilio reports the reply's delivery to our
webhook; `201` with the Message resource, whose `sid` its status callbacks name
(twilio.com/docs/messaging/api/message-resource; twilio/twilio-python's Message tests).

The reply leaves by the channel the customer last wrote on: `whatsapp:` addresses on both sides when that
was WhatsApp, bare numbers for SMS (schemas/twilio.py).

Rules:
- WhatsApp through Twilio keeps WhatsApp's 24-hour customer-service window; outside it only an approved
  template, sent with `ContentSid`, is allowed, and Twilio answers 63016 (twilio.com/docs/api/errors/63016).
  SMS has no window.
- `Body` is at most 1,600 characters, an emoji counting as more than one (twilio.com/docs/api/errors/21617);
  we count UTF-16 code units. A longer reply is refused, not split: Twilio already splits a body into SMS
  segments up to that limit, and several messages would give one reply several Message SIDs when its
  receipts can follow only one.
Errors are `{"code", "message", "more_info", "status"}` (twilio.com/docs/api/errors).
"""

from datetime import datetime, timedelta
from typing import Any

import httpx

from dispatcher.errors import PermanentError, RetryableError, RuleViolation
from dispatcher.provider_client import json_or_empty, transport_failure, with_provider_wait
from dispatcher.result import Send, SendResult
from dispatcher.settings import DispatcherSettings
from schemas import twilio as address
from schemas.outbound import OutboundMessage
from services.accounts import ChannelAccount

REPLY_WINDOW = timedelta(hours=24)
MAX_BODY_CHARS = 1600
_WINDOWED_VARIANTS = (address.WHATSAPP,)
# 20429 too many requests; 20500/20503 Twilio's own internal error / service unavailable.
_RETRYABLE_CODES = {"20429", "20500", "20503"}
_WINDOW_CLOSED = "63016"


def check_window(outbound: OutboundMessage, now: datetime) -> None:
    """Raise `RuleViolation` when a WhatsApp reply falls outside the customer-service window."""
    last = outbound.customer_last_message_at
    if _variant(outbound) in _WINDOWED_VARIANTS and (last is None or now - last > REPLY_WINDOW):
        since = "never wrote" if last is None else f"last wrote at {last.isoformat()}"
        raise RuleViolation(
            f"WhatsApp's 24-hour customer-service window is closed (the customer {since}); only an approved "
            "WhatsApp template can be sent now, through Twilio with ContentSid and ContentVariables",
            code="outside_window",
        )


def check_length(outbound: OutboundMessage) -> None:
    """Raise `PermanentError` for a body Twilio would refuse (21617) rather than send it to be refused."""
    length = body_length(outbound.text)
    if length > MAX_BODY_CHARS:
        raise PermanentError(
            f"Twilio accepts at most {MAX_BODY_CHARS} characters in a message and this reply has {length}; "
            "shorten it or send it as several replies",
            code="body_too_long",
        )


def body_length(text: str) -> int:
    """Characters as Twilio's limit counts them: UTF-16 code units, so an emoji counts twice."""
    return len(text.encode("utf-16-le")) // 2


def request_form(account: ChannelAccount, outbound: OutboundMessage) -> dict[str, str]:
    """The Messages API form: to the customer, from the account, on the channel the customer wrote on."""
    variant = _variant(outbound)
    form = {
        "To": address.join_address(variant, outbound.recipient_external_id),
        "From": address.join_address(variant, account.external_id),
        "Body": outbound.text,
    }
    status_callback = outbound.reply_context.get(address.STATUS_CALLBACK)
    if status_callback:
        form["StatusCallback"] = status_callback
    return form


async def send(
    client: httpx.AsyncClient, base_url: str, account: ChannelAccount, outbound: OutboundMessage, now: datetime
) -> SendResult:
    """Send one reply; raises `RetryableError` or `PermanentError` when Twilio does not accept it."""
    check_window(outbound, now)
    check_length(outbound)
    if not account.api_user:
        raise PermanentError(
            f"Twilio account {account.external_id} has no api_user: set it to the AccountSid", code="unknown_account"
        )
    try:
        response = await client.post(
            f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account.api_user}/Messages.json",
            data=request_form(account, outbound),
            auth=(account.api_user, account.access_token.get_secret_value()),
        )
    except httpx.TransportError as error:
        raise transport_failure(error, "Twilio API") from error
    body = json_or_empty(response)
    if not response.is_success:
        raise with_provider_wait(classify_error(response.status_code, body), response, now)
    sid = body.get("sid")
    if not isinstance(sid, str) or not sid:
        # Twilio took the message, so sending it again could deliver it twice.
        raise PermanentError(f"Twilio answered HTTP {response.status_code} without a Message sid", code="no_sid")
    return SendResult(provider_message_id=sid)


def sender(settings: DispatcherSettings) -> Send:
    base_url = settings.twilio_api_base

    async def send_twilio(
        client: httpx.AsyncClient, account: ChannelAccount, outbound: OutboundMessage, now: datetime
    ) -> SendResult:
        return await send(client, base_url, account, outbound, now)

    return send_twilio


def classify_error(status: int, body: dict[str, Any]) -> RetryableError | PermanentError:
    """Map a Twilio error answer to retry-later or give-up.

    Permanent among others: 21211 invalid `To`, 21610 the recipient replied STOP, 21614 `To` cannot receive
    SMS, 20003 wrong AccountSid or auth token, 20404 no such account.
    """
    code = str(body.get("code") or "")
    detail = f"HTTP {status}: {body.get('message') or 'no error message'} (code {code or 'none'})"
    if status == 429 or status >= 500 or code in _RETRYABLE_CODES:
        return RetryableError(detail, code=code or str(status))
    if code == _WINDOW_CLOSED:
        return RuleViolation(f"{detail}: outside WhatsApp's 24-hour window, send a template (ContentSid)", code=code)
    return PermanentError(detail, code=code or str(status))


def _variant(outbound: OutboundMessage) -> str:
    return outbound.reply_context.get(address.VARIANT, address.SMS)
