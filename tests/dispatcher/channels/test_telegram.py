from datetime import UTC, datetime, timedelta
from uuid import uuid4

import httpx
import orjson
import pytest
from pydantic import SecretStr

from dispatcher.channels.telegram import check_text, classify_error, request_body, retry_after, send
from dispatcher.errors import PermanentError, RetryableError, RuleViolation
from schemas.outbound import OutboundMessage
from services.accounts import ChannelAccount

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
TOKEN = "7000000001:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
ACCOUNT = ChannelAccount(channel="telegram", external_id="7000000001", name="shop", access_token=SecretStr(TOKEN))


def outbound(text: str = "Your order ships today.", chat: str | None = "111", days_since: int = 30) -> OutboundMessage:
    return OutboundMessage(
        message_id=uuid4(),
        conversation_id=uuid4(),
        channel="telegram",
        account_external_id=ACCOUNT.external_id,
        recipient_external_id="111",
        text=text,
        author="agent",
        created_at=NOW,
        customer_last_message_at=NOW - timedelta(days=days_since),
        reply_context={} if chat is None else {"chat_id": chat},
    )


def ok(message_id: int, chat: int = 111) -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "ok": True,
            "result": {
                "message_id": message_id,
                "from": {"id": 7000000001, "is_bot": True, "first_name": "Shop bot"},
                "chat": {"id": chat, "type": "private"},
                "date": 1746268900,
                "text": "Your order ships today.",
            },
        },
    )


def refusal(status: int, description: str, **parameters: int) -> httpx.Response:
    body = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return httpx.Response(status, json=body)


class Provider:
    def __init__(self, *answers: httpx.Response) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answers.pop(0)

    async def send(self, message: OutboundMessage, account: ChannelAccount = ACCOUNT):
        async with httpx.AsyncClient(transport=httpx.MockTransport(self)) as client:
            return await send(client, "https://tg.example/", account, message, NOW)


def test_the_request_is_send_message_to_the_chat_the_customer_wrote_in():
    assert request_body(outbound()) == {"chat_id": 111, "text": "Your order ships today."}
    assert request_body(outbound(chat="-1001234567890"))["chat_id"] == -1001234567890
    assert request_body(outbound(chat=None))["chat_id"] == 111  # a private chat's id is the user's


def test_there_is_no_reply_window_but_text_must_be_1_to_4096_characters():
    check_text(outbound(days_since=365))
    check_text(outbound(text="a" * 4096))
    check_text(outbound(text="😀" * 4096))  # characters, not UTF-16 code units
    with pytest.raises(RuleViolation, match="at most 4096"):
        check_text(outbound(text="a" * 4097))
    with pytest.raises(RuleViolation, match="empty"):
        check_text(outbound(text="  \n"))


@pytest.mark.parametrize(
    ("status", "description", "kind"),
    [
        (429, "Too Many Requests: retry after 5", RetryableError),
        (500, "Internal Server Error", RetryableError),
        (502, "Bad Gateway", RetryableError),
        (403, "Forbidden: bot was blocked by the user", PermanentError),
        (403, "Forbidden: user is deactivated", PermanentError),
        (400, "Bad Request: chat not found", PermanentError),
        (401, "Unauthorized", PermanentError),
        (404, "Not Found", PermanentError),
    ],
)
def test_provider_errors_are_retryable_or_permanent(status, description, kind):
    error = classify_error(status, {"ok": False, "error_code": status, "description": description})
    assert type(error) is kind
    assert error.code == str(status)
    assert description in error.detail


def test_a_migrated_group_says_where_it_went():
    body = {
        "ok": False,
        "error_code": 400,
        "description": "Bad Request: group chat was upgraded to a supergroup chat",
        "parameters": {"migrate_to_chat_id": -1001234567890},
    }
    assert "now chat -1001234567890" in classify_error(400, body).detail


def test_retry_after_is_read_from_the_parameters():
    assert retry_after({"parameters": {"retry_after": 5}}) == 5.0
    assert retry_after({"parameters": {}}) is None
    assert retry_after({}) is None


async def test_send_posts_to_the_bots_url_and_records_chat_and_message_id():
    provider = Provider(ok(8841))
    result = await provider.send(outbound())
    assert result.provider_message_id == "111:8841"
    [request] = provider.requests
    assert str(request.url) == f"https://tg.example/bot{TOKEN}/sendMessage"
    assert request.headers["content-type"] == "application/json"
    assert orjson.loads(request.content) == {"chat_id": 111, "text": "Your order ships today."}


async def test_a_rate_limit_carries_the_wait_telegram_asks_for_to_the_dispatcher():
    provider = Provider(refusal(429, "Too Many Requests: retry after 3", retry_after=3))
    with pytest.raises(RetryableError) as refused:
        await provider.send(outbound())
    assert (refused.value.retry_after_s, refused.value.rate_limited) == (3.0, True)


async def test_a_blocked_bot_is_permanent_and_not_waited_on():
    provider = Provider(refusal(403, "Forbidden: bot was blocked by the user"))
    with pytest.raises(PermanentError, match="blocked"):
        await provider.send(outbound())


async def test_the_bot_token_never_reaches_an_error_detail():
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot connect to {request.url}", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(unreachable)) as client:
        with pytest.raises(RetryableError) as refused:
            await send(client, "https://tg.example", ACCOUNT, outbound(), NOW)
    assert TOKEN not in refused.value.detail
    assert "<token>" in refused.value.detail


async def test_nothing_is_sent_without_a_token_or_with_an_overlong_text():
    provider = Provider()
    with pytest.raises(PermanentError, match="no bot token"):
        await provider.send(outbound(), ChannelAccount(channel="telegram", external_id="7000000001", name="x"))
    with pytest.raises(RuleViolation):
        await provider.send(outbound(text="a" * 4097))
    assert provider.requests == []
