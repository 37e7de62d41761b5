"""Sending through Meta's Send API, which Messenger and Instagram share: `POST {base}/{account id}/messages`.

    {"recipient": {"id": <PSID | IGSID>}, "messaging_type": "RESPONSE", "message": {"text": "..."}}
    -> 200 {"recipient_id": "...", "message_id": "m_..."}

The token is the account's (a Page token, an Instagram User token), sent as `Authorization: Bearer`,
which the Graph API accepts in place of the `access_token` query parameter and keeps out of URLs and logs.

Rules (developers.facebook.com/docs/messenger-platform/send-messages#messaging_types, .../message-tags):
- Within 24 hours of the customer's last message anything may be sent (`RESPONSE`).
- From 24 hours to 7 days only a human agent may reply, tagged `MESSAGE_TAG` + `HUMAN_AGENT` (the tag
  needs Meta's Human Agent permission). An automated (bot) reply may not use the tag.
- After 7 days nothing may be sent until the customer writes again.
- One message carries at most the platform's text limit. An over-long reply is refused rather than
  split: a reply is one provider message whose id its receipts name, and a retry after a partly sent
  split would send the parts that got through twice.

Errors (developers.facebook.com/documentation/business-messaging/messenger-platform/error-codes and the
Graph API's error-handling guide): throttling (4, 17, 32, 613), "temporary, retry later" (1, 2, 1200),
HTTP 429 and 5xx are retried. Code 10 with subcode 2018278 (Messenger) or 2534022 (Instagram) is Meta
refusing a send outside the window; the pairs come from open-source clients, Meta's table lists the
message "This message is sent outside of allowed window" without them. Everything else (551 person
unavailable, 100 invalid parameter, 190 token, 200/230 permissions, 368 policy block) is permanent.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from dispatcher.errors import PermanentError, RetryableError, RuleViolation
from dispatcher.provider_client import json_or_empty, transport_failure, with_provider_wait
from dispatcher.result import Send, SendResult
from schemas.outbound import OutboundMessage
from services.accounts import ChannelAccount

STANDARD_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)
_THROTTLED = {"4", "17", "32", "613"}
_TRANSIENT = {"1", "2", "1200"}
_OUTSIDE_WINDOW = {"2018278", "2534022"}


@dataclass(frozen=True)
class MessagingPlatform:
    """What differs between Messenger and Instagram when sending: the name and the text limit."""

    channel: str
    name: str
    max_text: int
    text_unit: str  # "characters" or "bytes", as the platform's documentation states its limit
    measure: Callable[[str], int]


def messaging_type(platform: MessagingPlatform, outbound: OutboundMessage, now: datetime) -> dict[str, str]:
    """The `messaging_type` (and `tag`) this reply may be sent with; `RuleViolation` when none may."""
    last = outbound.customer_last_message_at
    if last is None:
        raise RuleViolation(
            f"{platform.name} only lets a business message people who wrote to it first, and this customer "
            "never wrote: wait for the customer's message",
            code="outside_window",
        )
    since = now - last
    if since <= STANDARD_WINDOW:
        return {"messaging_type": "RESPONSE"}
    wrote = f"the customer last wrote at {last.isoformat()}, {_age(since)} ago"
    if since > HUMAN_AGENT_WINDOW:
        raise RuleViolation(
            f"{platform.name}'s messaging window is closed ({wrote}): a reply is allowed within 24 hours, and a "
            "human agent's within 7 days with the HUMAN_AGENT tag; nothing can be sent until the customer "
            "writes again",
            code="outside_window",
        )
    if outbound.author != "agent":
        raise RuleViolation(
            f"{platform.name}'s 24-hour messaging window is closed ({wrote}): after it only a human agent may "
            f"reply, with the HUMAN_AGENT tag, until {(last + HUMAN_AGENT_WINDOW).isoformat()}; automated "
            "replies are not allowed",
            code="outside_window",
        )
    return {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}


def check_text(platform: MessagingPlatform, outbound: OutboundMessage) -> None:
    """Raise `RuleViolation` when the reply is longer than one message on this platform may be."""
    size = platform.measure(outbound.text)
    if size > platform.max_text:
        raise RuleViolation(
            f"the reply is {size} {platform.text_unit} long and one {platform.name} message holds at most "
            f"{platform.max_text}: send it as shorter replies",
            code="text_too_long",
        )


def request_body(platform: MessagingPlatform, outbound: OutboundMessage, now: datetime) -> dict[str, Any]:
    """The Send API's text message to the customer, under the messaging type the window allows."""
    return {
        "recipient": {"id": outbound.recipient_external_id},
        **messaging_type(platform, outbound, now),
        "message": {"text": outbound.text},
    }


async def send(
    client: httpx.AsyncClient,
    base_url: str,
    platform: MessagingPlatform,
    account: ChannelAccount,
    outbound: OutboundMessage,
    now: datetime,
) -> SendResult:
    """Send one reply; raises `RetryableError` or `PermanentError` when Meta does not accept it."""
    check_text(platform, outbound)
    body = request_body(platform, outbound, now)
    try:
        response = await client.post(
            f"{base_url.rstrip('/')}/{account.external_id}/messages",
            json=body,
            headers={"Authorization": f"Bearer {account.access_token.get_secret_value()}"},
        )
    except httpx.TransportError as error:
        raise transport_failure(error, f"{platform.name} Send API") from error
    answer = json_or_empty(response)
    if not response.is_success:
        raise with_provider_wait(classify_error(response.status_code, answer), response, now)
    message_id = answer.get("message_id")
    if not isinstance(message_id, str):
        # Accepted, perhaps delivered: sending again could deliver it twice.
        raise PermanentError(f"{platform.name} accepted the reply without a message_id: {answer!r}", code="no_id")
    return SendResult(provider_message_id=message_id)


def sender(base_url: str, platform: MessagingPlatform) -> Send:
    """`send` bound to one platform and its configured API base."""

    async def send_message(
        client: httpx.AsyncClient, account: ChannelAccount, outbound: OutboundMessage, now: datetime
    ) -> SendResult:
        return await send(client, base_url, platform, account, outbound, now)

    return send_message


def classify_error(status: int, body: dict[str, Any]) -> RetryableError | PermanentError:
    """Map a Graph API error answer to retry-later, give-up, or a window the provider says is closed."""
    error = body.get("error") or {}
    code = str(error.get("code", ""))
    subcode = str(error.get("error_subcode", ""))
    key = f"{code}/{subcode}" if subcode else code
    detail = f"HTTP {status}: {error.get('message') or 'no error message'} (code {key or 'none'})"
    key = key or str(status)
    if code == "10" and subcode in _OUTSIDE_WINDOW:
        return RuleViolation(detail, code=key)
    if status == 429 or status >= 500 or code in _THROTTLED or (code in _TRANSIENT and not subcode):
        return RetryableError(detail, code=key, rate_limited=status == 429 or code in _THROTTLED)
    return PermanentError(detail, code=key)


def _age(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:.0f} hours" if hours < 48 else f"{hours / 24:.1f} days"
