"""Replying on webchat: POST each reply to the site's chat-widget backend, which shows it to the visitor.

    POST {SWITCHBOARD_WEBCHAT_API_BASE}/messages
    Content-Type: application/json
    X-Switchboard-Timestamp, X-Switchboard-Signature: as the site signs its webhooks
        (services/webchat_signature.py), with the site's key, else SWITCHBOARD_WEBCHAT_SIGNING_KEY
    Idempotency-Key: <the reply's UUID, the same as message_id>
    {"site_id": "shop-1", "visitor_id": "v-8c1f", "message_id": "<the reply's UUID>",
     "text": "It ships today.", "sent_at": "2026-11-23T12:00:03+00:00"}

Any 2xx means the site has it. The site MUST honour `Idempotency-Key` (as Stripe's API does, and the IETF
draft "The Idempotency-Key HTTP Header Field"): a request whose key it already accepted is not delivered
again, and is answered as the first one was (2xx). A reply whose answer was lost (a timeout after the
request was written, a dispatcher that died mid-send) is posted again with the same key and the same
`message_id`: the dispatcher relies on that to resend instead of leaving the reply's outcome unknown.
A 429 or 503 may carry `Retry-After` (seconds or an HTTP-date); no retry comes before it.
The site reports delivery and reading back as receipts naming that `message_id` (ingest/channels/webchat.py).
429 and 5xx are retried, like a connection that could not be made; any other answer fails the reply.
Webchat has no reply window: the site decides what reaches a visitor who has left.
"""

from datetime import datetime
from typing import Any

import httpx
import orjson

from dispatcher.errors import PermanentError, RetryableError
from dispatcher.provider_client import transport_failure, with_provider_wait
from dispatcher.result import Send, SendResult
from dispatcher.settings import DispatcherSettings
from schemas.outbound import OutboundMessage
from services.accounts import ChannelAccount
from services.webchat_signature import signature_headers

IDEMPOTENCY_HEADER = "Idempotency-Key"


def visitor_id(account: ChannelAccount, outbound: OutboundMessage) -> str:
    """The site's own id for the visitor: ingest keeps it as "<site_id>:<visitor_id>"."""
    prefix = f"{account.external_id}:"
    if not outbound.recipient_external_id.startswith(prefix):
        raise PermanentError(
            f"{outbound.recipient_external_id!r} is not a visitor of site {account.external_id!r}",
            code="bad_recipient",
        )
    return outbound.recipient_external_id.removeprefix(prefix)


def request_body(account: ChannelAccount, outbound: OutboundMessage, now: datetime) -> dict[str, Any]:
    """The reply as the site's backend receives it."""
    return {
        "site_id": account.external_id,
        "visitor_id": visitor_id(account, outbound),
        "message_id": str(outbound.message_id),
        "text": outbound.text,
        "sent_at": now.isoformat(),
    }


async def send(
    client: httpx.AsyncClient,
    base_url: str,
    default_key: bytes,
    account: ChannelAccount,
    outbound: OutboundMessage,
    now: datetime,
) -> SendResult:
    """Post one reply to the site; raises `RetryableError` or `PermanentError` when it is not taken."""
    key = account.webhook_secret.get_secret_value().encode() or default_key
    if not key:
        raise PermanentError(f"no signing key for webchat site {account.external_id!r}", code="no_signing_key")
    body = orjson.dumps(request_body(account, outbound, now))
    try:
        response = await client.post(
            f"{base_url.rstrip('/')}/messages",
            content=body,
            headers={
                "content-type": "application/json",
                IDEMPOTENCY_HEADER: str(outbound.message_id),
                **signature_headers(key, body, now.timestamp()),
            },
        )
    except httpx.TransportError as error:
        raise transport_failure(error, "webchat site backend", resend_safe=True) from error
    if response.is_success:
        return SendResult(provider_message_id=f"{account.external_id}:{outbound.message_id}")
    raise with_provider_wait(classify_error(response.status_code, response.text), response, now)


def sender(settings: DispatcherSettings) -> Send:
    """`send` bound to the configured site backend and channel-wide signing key."""
    base_url = settings.webchat_api_base
    default_key = settings.webchat_signing_key.get_secret_value().encode()

    async def send_webchat(
        client: httpx.AsyncClient, account: ChannelAccount, outbound: OutboundMessage, now: datetime
    ) -> SendResult:
        return await send(client, base_url, default_key, account, outbound, now)

    return send_webchat


def classify_error(status: int, body: str) -> RetryableError | PermanentError:
    """Map the site backend's error answer to retry-later or give-up."""
    detail = f"HTTP {status} from the webchat site backend: {body[:300] or 'no body'}"
    if status == 429 or status >= 500:
        return RetryableError(detail, code=str(status))
    return PermanentError(detail, code=str(status))
