"""Sending through the WhatsApp Cloud API: `POST {base}/{phone_number_id}/messages`.

Rule: free-form messages only within 24 hours of the customer's last message; after that only an
approved template may be sent (developers.facebook.com/docs/whatsapp/pricing#customer-service-windows).
Error codes: developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes.
"""

from datetime import datetime, timedelta
from typing import Any

import httpx

from dispatcher.errors import PermanentError, RetryableError, RuleViolation
from dispatcher.provider_client import json_or_empty, transport_failure, with_provider_wait
from dispatcher.result import Send, SendResult
from dispatcher.settings import DispatcherSettings
from schemas.outbound import OutboundMessage
from services.accounts import ChannelAccount

REPLY_WINDOW = timedelta(hours=24)
# Throughput, pair-rate, spam-rate, WABA and app rate limits: the same message succeeds later.
_RATE_LIMIT_CODES = {"130429", "131056", "131048", "80007", "4", "131057"}


def check_window(outbound: OutboundMessage, now: datetime) -> None:
    """Raise `RuleViolation` when the customer-service window is closed for a free-form message."""
    last = outbound.customer_last_message_at
    if last is None or now - last > REPLY_WINDOW:
        since = "never wrote" if last is None else f"last wrote at {last.isoformat()}"
        raise RuleViolation(
            f"WhatsApp's 24-hour customer-service window is closed (the customer {since}); "
            "only an approved message template can be sent now",
            code="outside_window",
        )


def request_body(outbound: OutboundMessage) -> dict[str, Any]:
    """The Cloud API's text message, quoting the customer's message when the reply names one."""
    body: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": outbound.recipient_external_id,
        "type": "text",
        "text": {"preview_url": False, "body": outbound.text},
    }
    if outbound.reply_to_provider_message_id:
        body["context"] = {"message_id": outbound.reply_to_provider_message_id}
    return body


async def send(
    client: httpx.AsyncClient, base_url: str, account: ChannelAccount, outbound: OutboundMessage, now: datetime
) -> SendResult:
    """Send one reply; raises `RetryableError` or `PermanentError` when the provider does not accept it."""
    check_window(outbound, now)
    try:
        response = await client.post(
            f"{base_url.rstrip('/')}/{account.external_id}/messages",
            json=request_body(outbound),
            headers={"Authorization": f"Bearer {account.access_token.get_secret_value()}"},
        )
    except httpx.TransportError as error:
        raise transport_failure(error, "WhatsApp API") from error
    if response.is_success:
        return SendResult(provider_message_id=response.json()["messages"][0]["id"])
    raise with_provider_wait(classify_error(response.status_code, json_or_empty(response)), response, now)


def sender(settings: DispatcherSettings) -> Send:
    base_url = settings.whatsapp_api_base

    async def send_whatsapp(
        client: httpx.AsyncClient, account: ChannelAccount, outbound: OutboundMessage, now: datetime
    ) -> SendResult:
        return await send(client, base_url, account, outbound, now)

    return send_whatsapp


def classify_error(status: int, body: dict[str, Any]) -> RetryableError | PermanentError:
    """Map a Graph API error answer to retry-later or give-up."""
    error = body.get("error") or {}
    code = str(error.get("code", ""))
    detail = f"HTTP {status}: {error.get('message') or 'no error message'} (code {code or 'none'})"
    if status == 429 or status >= 500 or code in _RATE_LIMIT_CODES:
        return RetryableError(detail, code=code or str(status), rate_limited=status == 429 or code in _RATE_LIMIT_CODES)
    if code == "131047":
        return RuleViolation(detail, code=code)
    return PermanentError(detail, code=code or str(status))
