"""Sending through the Telegram Bot API: `POST {base}/bot<token>/sendMessage` `{"chat_id", "text"}`.

No reply window: a bot may write to anyone who has started it (core.telegram.org/bots/api#sendmessage).
Text is 1-4,096 characters; a longer reply is refused before sending rather than split, because Telegram
has no idempotency key: a split reply whose second part failed would resend its first part on retry.
Telegram counts characters, not UTF-16 code units (4,096 astral emoji are accepted, one more is
"message is too long", as measured in FerroxLabs/wayland#934); the agent API already caps replies at 4,096.
Success `{"ok": true, "result": Message}`; the id recorded is `<chat id>:<message_id>`, the form ingest
gives Telegram messages, since message_id is unique within a chat only.

Errors `{"ok": false, "error_code", "description", "parameters"?}` (core.telegram.org/bots/api#making-requests):
429 and 5xx are retried. A 429 says how long to wait in `parameters.retry_after`, which the retry error
carries to the dispatcher: no attempt comes before it.
403 (the user blocked the bot, or deactivated), 400 (chat not found; a group migrated to a supergroup),
401/404 (bad token) are permanent. The bot token is part of the URL, so it is kept out of error details.
"""

from datetime import datetime
from typing import Any

import httpx

from dispatcher.errors import PermanentError, RetryableError, RuleViolation
from dispatcher.provider_client import json_or_empty, transport_failure
from dispatcher.result import Send, SendResult
from dispatcher.settings import DispatcherSettings
from schemas.outbound import OutboundMessage
from services.accounts import ChannelAccount

MAX_TEXT_CHARS = 4096


def check_text(outbound: OutboundMessage) -> None:
    """Raise `RuleViolation` for a text Telegram would refuse."""
    if not outbound.text.strip():
        raise RuleViolation("Telegram refuses an empty message: write some text", code="empty_text")
    if len(outbound.text) > MAX_TEXT_CHARS:
        raise RuleViolation(
            f"the reply is {len(outbound.text)} characters; Telegram takes at most {MAX_TEXT_CHARS} in one "
            "message: shorten it or send it as several replies",
            code="text_too_long",
        )


def chat_id(outbound: OutboundMessage) -> int | str:
    """The chat the customer wrote in (their own id in a private chat); an integer, as the Bot API types it."""
    chat = outbound.reply_context.get("chat_id") or outbound.recipient_external_id
    return int(chat) if chat.lstrip("-").isdigit() else chat


def request_body(outbound: OutboundMessage) -> dict[str, Any]:
    return {"chat_id": chat_id(outbound), "text": outbound.text}


def sent_message_id(answer: dict[str, Any], chat: int | str) -> str:
    """`<chat id>:<message_id>` of the Message in a successful answer."""
    result = answer.get("result")
    if not isinstance(result, dict) or result.get("message_id") is None:
        # It was sent (ok: true): a retry would send it again, so this is not retryable.
        raise PermanentError(f"Telegram accepted the message but named no message_id: {answer}", code="no_id")
    sent_chat = result.get("chat")
    return f"{sent_chat.get('id', chat) if isinstance(sent_chat, dict) else chat}:{result['message_id']}"


def retry_after(body: dict[str, Any]) -> float | None:
    """The wait Telegram asked for in a 429's `parameters.retry_after`, in seconds."""
    parameters = body.get("parameters")
    value = parameters.get("retry_after") if isinstance(parameters, dict) else None
    return float(value) if isinstance(value, int | float) and value >= 0 else None


def classify_error(status: int, body: dict[str, Any]) -> RetryableError | PermanentError:
    """Map a Bot API error answer to retry-later or give-up."""
    code = body.get("error_code") if isinstance(body.get("error_code"), int) else status
    detail = f"HTTP {status}: {body.get('description') or 'no description'}"
    parameters = body.get("parameters")
    if isinstance(parameters, dict) and parameters.get("migrate_to_chat_id"):
        detail += f" (the group is now chat {parameters['migrate_to_chat_id']})"
    if status == 429 or code == 429 or status >= 500:
        return RetryableError(detail, code=str(code))
    return PermanentError(detail, code=str(code))


async def send(
    client: httpx.AsyncClient,
    base_url: str,
    account: ChannelAccount,
    outbound: OutboundMessage,
    now: datetime,
) -> SendResult:
    """Send one reply; raises `RetryableError` or `PermanentError` when the Bot API does not accept it."""
    check_text(outbound)
    token = account.access_token.get_secret_value()
    if not token:
        raise PermanentError(f"Telegram bot {account.external_id} has no bot token", code="no_token")
    body = request_body(outbound)
    try:
        response = await client.post(f"{base_url.rstrip('/')}/bot{token}/sendMessage", json=body)
    except httpx.TransportError as error:
        failure = transport_failure(error, "Telegram API")
        failure.detail = failure.detail.replace(token, "<token>")
        failure.args = (failure.detail,)
        raise failure from None  # the cause's text names the URL, and the URL the token
    answer = json_or_empty(response)
    if response.is_success and answer.get("ok") is True:
        return SendResult(provider_message_id=sent_message_id(answer, body["chat_id"]))
    refusal = classify_error(response.status_code, answer)
    if isinstance(refusal, RetryableError):
        refusal.retry_after_s = retry_after(answer)
        refusal.rate_limited = response.status_code == 429
    raise refusal


def sender(settings: DispatcherSettings) -> Send:
    base_url = settings.telegram_api_base

    async def send_telegram(
        client: httpx.AsyncClient, account: ChannelAccount, outbound: OutboundMessage, now: datetime
    ) -> SendResult:
        return await send(client, base_url, account, outbound, now)

    return send_telegram
