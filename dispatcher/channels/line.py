"""Sending through the LINE Messaging API: a reply while the reply token is fresh, else a push.

Reply `POST {base}/v2/bot/message/reply` `{"replyToken", "messages"}` is free but its token is single-use
and valid for about a minute after the event (developers.line.biz/en/reference/messaging-api/#send-reply-message);
we use it only when the customer's message is under 50 s old: the 10 s left absorb the clock difference
between LINE's event timestamp and ours and the request's own transit. Push `POST {base}/v2/bot/message/push`
`{"to", "messages"}` reaches the customer at any time and counts against the monthly quota. LINE answers a
spent or expired token with 400 `{"message": "Invalid reply token"}`: the same send then goes by push.

A push carries `X-Line-Retry-Key: <the reply's message_id>`; LINE executes one key once and answers a
repeat with 409, plus the first answer's `sentMessages` for push, and `x-line-accepted-request-id`
(developers.line.biz/en/docs/messaging-api/retrying-api-request). A 409 is therefore a success. The id
recorded is `sentMessages[0].id`; an answer without it (`{}` from older API versions) records the
accepted request's id, the one the 200 named in `x-line-request-id` and a 409 in `x-line-accepted-request-id`.
A reply has no retry key: if LINE took a reply whose answer was lost, the retry finds the token spent and
pushes the text a second time.

Text is counted in UTF-16 code units, at most 5,000 per text message and 5 messages per request
(developers.line.biz/en/docs/messaging-api/text-character-count): a longer reply is split into several
text messages of one request, so it arrives whole or not at all.
Errors `{"message", "details"?}`: 429 is a rate or concurrency limit (retry) unless the monthly quota is
spent ("You have reached your monthly limit."), which retrying cannot fix; 5xx and transport errors are
retried; other 4xx (bad token 401, forbidden 403, invalid recipient 400) are permanent.
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

REPLY_TOKEN_TTL = timedelta(seconds=50)
MAX_TEXT_UNITS = 5000
MAX_MESSAGES = 5


def fresh_reply_token(outbound: OutboundMessage, now: datetime) -> str | None:
    """The customer's reply token while it can still be used, else None (send by push)."""
    token = outbound.reply_context.get("reply_token")
    last = outbound.customer_last_message_at
    if not token or last is None or now - last >= REPLY_TOKEN_TTL:
        return None
    return token


def text_messages(text: str) -> list[dict[str, str]]:
    """LINE text message objects for `text`: one per 5,000 UTF-16 code units, at most five."""
    chunks: list[str] = []
    start, units = 0, 0
    for index, char in enumerate(text):
        width = 2 if ord(char) > 0xFFFF else 1  # outside the BMP: a surrogate pair, never split
        if units + width > MAX_TEXT_UNITS:
            chunks.append(text[start:index])
            start, units = index, 0
        units += width
    chunks.append(text[start:])
    if len(chunks) > MAX_MESSAGES:
        raise RuleViolation(
            f"the reply is {_utf16_units(text)} UTF-16 code units long; LINE takes at most {MAX_MESSAGES} "
            f"messages of {MAX_TEXT_UNITS} in one send: shorten it or send it as several replies",
            code="text_too_long",
        )
    return [{"type": "text", "text": chunk} for chunk in chunks]


def reply_body(reply_token: str, outbound: OutboundMessage) -> dict[str, Any]:
    return {"replyToken": reply_token, "messages": text_messages(outbound.text)}


def push_body(outbound: OutboundMessage) -> dict[str, Any]:
    """A push to the chat the customer wrote in: their user id, or the group or room it came from."""
    to = outbound.reply_context.get("to") or outbound.recipient_external_id
    return {"to": to, "messages": text_messages(outbound.text)}


def is_spent_reply_token(status: int, body: dict[str, Any]) -> bool:
    """Whether LINE refused the reply token (used or expired), so a push must carry the message."""
    return status == 400 and "invalid reply token" in str(body.get("message", "")).lower()


def sent_message_id(body: dict[str, Any], headers: httpx.Headers, fallback: str) -> str:
    """The id LINE gave the (first) message sent, or the accepted request's id when it gave none."""
    sent = body.get("sentMessages")
    if isinstance(sent, list) and sent and isinstance(sent[0], dict) and sent[0].get("id"):
        return str(sent[0]["id"])
    return headers.get("x-line-accepted-request-id") or headers.get("x-line-request-id") or fallback


def classify_error(status: int, body: dict[str, Any]) -> RetryableError | PermanentError:
    """Map a LINE error answer to retry-later or give-up."""
    message = str(body.get("message") or "no error message")
    details = body.get("details")
    detail = f"HTTP {status}: {message}" + (f" {details}" if details else "")
    if status == 429 and "monthly limit" in message.lower():
        return PermanentError(f"{detail}: the push quota is spent until next month", code="monthly_limit")
    if status == 429 or status >= 500:
        return RetryableError(detail, code=str(status))
    return PermanentError(detail, code=str(status))


async def send(
    client: httpx.AsyncClient, base_url: str, account: ChannelAccount, outbound: OutboundMessage, now: datetime
) -> SendResult:
    """Send one reply by reply token or push; raises `RetryableError` or `PermanentError` when refused."""
    token = account.access_token.get_secret_value()
    if not token:
        raise PermanentError(f"LINE bot {account.external_id} has no channel access token", code="no_token")
    base = base_url.rstrip("/")
    auth = {"Authorization": f"Bearer {token}"}
    fallback_id = str(outbound.message_id)
    reply_token = fresh_reply_token(outbound, now)
    if reply_token is not None:
        # No retry key on a reply: an answer lost after the request was written leaves the outcome unknown.
        response = await _post(client, f"{base}/v2/bot/message/reply", reply_body(reply_token, outbound), auth)
        body = json_or_empty(response)
        if response.is_success:
            return SendResult(provider_message_id=sent_message_id(body, response.headers, fallback_id))
        if not is_spent_reply_token(response.status_code, body):
            raise with_provider_wait(classify_error(response.status_code, body), response, now)
    headers = {**auth, "X-Line-Retry-Key": str(outbound.message_id)}
    response = await _post(client, f"{base}/v2/bot/message/push", push_body(outbound), headers, resend_safe=True)
    body = json_or_empty(response)
    if response.is_success or response.status_code == 409:  # 409: this retry key was already accepted
        return SendResult(provider_message_id=sent_message_id(body, response.headers, fallback_id))
    raise with_provider_wait(classify_error(response.status_code, body), response, now)


def sender(settings: DispatcherSettings) -> Send:
    base_url = settings.line_api_base

    async def send_line(
        client: httpx.AsyncClient, account: ChannelAccount, outbound: OutboundMessage, now: datetime
    ) -> SendResult:
        return await send(client, base_url, account, outbound, now)

    return send_line


async def _post(
    client: httpx.AsyncClient, url: str, body: dict[str, Any], headers: dict[str, str], *, resend_safe: bool = False
) -> httpx.Response:
    try:
        return await client.post(url, json=body, headers=headers)
    except httpx.TransportError as error:
        raise transport_failure(error, "LINE API", resend_safe=resend_safe) from error


def _utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2
