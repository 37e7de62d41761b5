from datetime import UTC, datetime, timedelta
from uuid import uuid4

import httpx
import orjson
import pytest
from pydantic import SecretStr

from dispatcher.channels.line import (
    classify_error,
    fresh_reply_token,
    push_body,
    reply_body,
    send,
    sent_message_id,
    text_messages,
)
from dispatcher.errors import PermanentError, RetryableError, RuleViolation
from schemas.outbound import OutboundMessage
from services.accounts import ChannelAccount

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
BASE = "https://line.example"
ACCOUNT = ChannelAccount(
    channel="line", external_id="U8e742f61d673b39c7fff3cecb7536ef0", name="dev", access_token=SecretStr("line-token")
)
CUSTOMER = "U4af4980629c8a1f7f5e8e2d4d7a2b1c3"


def outbound(
    written_ago: timedelta | None = timedelta(seconds=5),
    text: str = "Your order ships today.",
    **reply_context: str,
) -> OutboundMessage:
    return OutboundMessage(
        message_id=uuid4(),
        conversation_id=uuid4(),
        channel="line",
        account_external_id=ACCOUNT.external_id,
        recipient_external_id=CUSTOMER,
        text=text,
        author="agent",
        created_at=NOW,
        customer_last_message_at=None if written_ago is None else NOW - written_ago,
        reply_context={"reply_token": "token-1", "quote_token": "q1", **reply_context},
    )


class Provider:
    """A scripted LINE API: answers per path, in order, and remembers what it was sent."""

    def __init__(self, **answers: list[httpx.Response]) -> None:
        self.answers = answers
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answers[request.url.path.rsplit("/", 1)[-1]].pop(0)

    async def send(self, message: OutboundMessage, account: ChannelAccount = ACCOUNT):
        async with httpx.AsyncClient(transport=httpx.MockTransport(self)) as client:
            return await send(client, BASE + "/", account, message, NOW)


def sent(*ids: str, request_id: str = "req-1") -> httpx.Response:
    return httpx.Response(
        200,
        json={"sentMessages": [{"id": i, "quoteToken": "q"} for i in ids]},
        headers={"x-line-request-id": request_id},
    )


def test_the_reply_token_is_used_only_while_under_50_seconds_old():
    assert fresh_reply_token(outbound(timedelta(seconds=49, microseconds=999999)), NOW) == "token-1"
    assert fresh_reply_token(outbound(timedelta(seconds=50)), NOW) is None
    assert fresh_reply_token(outbound(None), NOW) is None
    no_token = outbound().model_copy(update={"reply_context": {}})
    assert fresh_reply_token(no_token, NOW) is None


def test_reply_and_push_bodies_are_the_messaging_apis():
    message = outbound()
    assert reply_body("token-1", message) == {
        "replyToken": "token-1",
        "messages": [{"type": "text", "text": "Your order ships today."}],
    }
    assert push_body(message) == {"to": CUSTOMER, "messages": [{"type": "text", "text": "Your order ships today."}]}
    assert push_body(outbound(to="Ca56f94637cc4347f90a25382909b24b9"))["to"] == "Ca56f94637cc4347f90a25382909b24b9"


def test_text_is_split_every_5000_utf16_units_without_breaking_a_surrogate_pair():
    assert text_messages("a" * 5000) == [{"type": "text", "text": "a" * 5000}]
    assert [m["text"] for m in text_messages("a" * 5001)] == ["a" * 5000, "a"]
    # 2,500 apples are 5,000 code units: the 2,501st starts the next message whole.
    assert [m["text"] for m in text_messages("🍎" * 2501)] == ["🍎" * 2500, "🍎"]
    assert [m["text"] for m in text_messages("a" * 4999 + "🍎")] == ["a" * 4999, "🍎"]
    assert len(text_messages("a" * 25000)) == 5
    with pytest.raises(RuleViolation, match="at most 5 messages"):
        text_messages("a" * 25001)


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (429, {"message": "The API rate limit has been exceeded. Try again later."}, RetryableError),
        (429, {"message": "You have reached your monthly limit."}, PermanentError),
        (500, {"message": "An error occurred in the server"}, RetryableError),
        (503, {}, RetryableError),
        (400, {"message": "The property, 'to', in the request body is invalid (line: -, column: -)"}, PermanentError),
        (401, {"message": "Authentication failed due to the following reason: invalid token"}, PermanentError),
        (403, {"message": "Access to this API is not available for your account"}, PermanentError),
    ],
)
def test_provider_errors_are_retryable_or_permanent(status, body, kind):
    assert type(classify_error(status, body)) is kind


def test_the_recorded_id_is_the_first_sent_message_or_the_accepted_request():
    assert sent_message_id({"sentMessages": [{"id": "1"}, {"id": "2"}]}, httpx.Headers(), "ours") == "1"
    assert sent_message_id({}, httpx.Headers({"x-line-request-id": "req-1"}), "ours") == "req-1"
    headers = httpx.Headers({"x-line-request-id": "req-2", "x-line-accepted-request-id": "req-1"})
    assert sent_message_id({"message": "The retry key is already accepted"}, headers, "ours") == "req-1"
    assert sent_message_id({}, httpx.Headers(), "ours") == "ours"


async def test_a_fresh_token_sends_a_reply_with_the_bots_access_token():
    provider = Provider(reply=[sent("461230966842064897")])
    result = await provider.send(outbound())
    assert result.provider_message_id == "461230966842064897"
    [request] = provider.requests
    assert str(request.url) == f"{BASE}/v2/bot/message/reply"
    assert request.headers["authorization"] == "Bearer line-token"
    assert "x-line-retry-key" not in request.headers
    assert orjson.loads(request.content) == reply_body("token-1", outbound())


async def test_a_stale_token_goes_straight_to_push_with_the_reply_id_as_retry_key():
    provider = Provider(push=[sent("461230966842064898")])
    message = outbound(timedelta(minutes=5))
    result = await provider.send(message)
    assert result.provider_message_id == "461230966842064898"
    [request] = provider.requests
    assert str(request.url) == f"{BASE}/v2/bot/message/push"
    assert request.headers["x-line-retry-key"] == str(message.message_id)
    assert request.headers["authorization"] == "Bearer line-token"
    assert orjson.loads(request.content) == push_body(message)


async def test_a_spent_reply_token_falls_back_to_push():
    provider = Provider(
        reply=[httpx.Response(400, json={"message": "Invalid reply token"})], push=[sent("461230966842064899")]
    )
    result = await provider.send(outbound())
    assert result.provider_message_id == "461230966842064899"
    assert [r.url.path for r in provider.requests] == ["/v2/bot/message/reply", "/v2/bot/message/push"]


async def test_a_push_already_accepted_under_its_retry_key_is_a_success():
    provider = Provider(
        push=[
            httpx.Response(
                409,
                json={
                    "message": "The retry key is already accepted",
                    "sentMessages": [{"id": "777", "quoteToken": "q"}],
                },
                headers={"x-line-request-id": "req-2", "x-line-accepted-request-id": "req-1"},
            )
        ]
    )
    assert (await provider.send(outbound(None))).provider_message_id == "777"


async def test_an_older_push_answer_without_sent_messages_records_the_request_id():
    provider = Provider(push=[httpx.Response(200, json={}, headers={"x-line-request-id": "req-9"})])
    assert (await provider.send(outbound(None))).provider_message_id == "req-9"


async def test_other_reply_errors_do_not_fall_back_to_push():
    provider = Provider(reply=[httpx.Response(429, json={"message": "The API rate limit has been exceeded."})])
    with pytest.raises(RetryableError):
        await provider.send(outbound())
    assert [r.url.path for r in provider.requests] == ["/v2/bot/message/reply"]


async def test_push_errors_are_classified():
    provider = Provider(push=[httpx.Response(429, json={"message": "You have reached your monthly limit."})])
    with pytest.raises(PermanentError, match="monthly limit") as refused:
        await provider.send(outbound(None))
    assert refused.value.code == "monthly_limit"


async def test_an_unreachable_provider_is_retryable():
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(unreachable)) as client:
        with pytest.raises(RetryableError, match="unreachable"):
            await send(client, BASE, ACCOUNT, outbound(), NOW)


async def test_a_bot_without_an_access_token_or_an_overlong_text_is_never_sent():
    provider = Provider()
    with pytest.raises(PermanentError, match="no channel access token"):
        await provider.send(outbound(), ChannelAccount(channel="line", external_id="U1", name="no token"))
    with pytest.raises(RuleViolation, match="shorten it"):
        await provider.send(outbound(text="a" * 25001))
    assert provider.requests == []
