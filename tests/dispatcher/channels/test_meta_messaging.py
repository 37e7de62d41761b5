from datetime import UTC, datetime, timedelta
from uuid import uuid4

import httpx
import orjson
import pytest
from pydantic import SecretStr

from dispatcher.channels.instagram import INSTAGRAM
from dispatcher.channels.messenger import MESSENGER
from dispatcher.channels.meta_messaging import (
    check_text,
    classify_error,
    messaging_type,
    request_body,
    send,
)
from dispatcher.errors import PermanentError, RetryableError, RuleViolation
from schemas.outbound import OutboundMessage
from services.accounts import ChannelAccount

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
PAGE = ChannelAccount(
    channel="messenger", external_id="108888888888881", name="Page", access_token=SecretStr("page-token")
)


def outbound(
    last_message_ago: timedelta | None = timedelta(hours=1), author: str = "agent", text: str = "It ships today."
):
    return OutboundMessage(
        message_id=uuid4(),
        conversation_id=uuid4(),
        channel="messenger",
        account_external_id=PAGE.external_id,
        recipient_external_id="1254477777772919",
        text=text,
        author=author,
        created_at=NOW,
        customer_last_message_at=None if last_message_ago is None else NOW - last_message_ago,
    )


@pytest.mark.parametrize("author", ["agent", "bot"])
def test_within_24_hours_anyone_replies_as_a_response(author):
    for ago in (timedelta(0), timedelta(hours=23, minutes=59), timedelta(hours=24), timedelta(seconds=-5)):
        assert messaging_type(MESSENGER, outbound(ago, author), NOW) == {"messaging_type": "RESPONSE"}


def test_a_human_agent_replies_with_the_human_agent_tag_until_7_days():
    for ago in (timedelta(hours=24, seconds=1), timedelta(days=3), timedelta(days=7)):
        assert messaging_type(MESSENGER, outbound(ago, "agent"), NOW) == {
            "messaging_type": "MESSAGE_TAG",
            "tag": "HUMAN_AGENT",
        }


def test_a_bot_may_not_reply_after_24_hours():
    with pytest.raises(RuleViolation, match="only a human agent may reply") as refused:
        messaging_type(MESSENGER, outbound(timedelta(hours=25), "bot"), NOW)
    assert refused.value.code == "outside_window"
    assert "2026-11-29" in refused.value.detail  # until when a human agent still could


@pytest.mark.parametrize("author", ["agent", "bot"])
def test_nothing_may_be_sent_after_7_days(author):
    with pytest.raises(RuleViolation, match="until the customer writes again") as refused:
        messaging_type(INSTAGRAM, outbound(timedelta(days=7, seconds=1), author), NOW)
    assert refused.value.code == "outside_window"
    assert "Instagram" in refused.value.detail


def test_nothing_may_be_sent_to_someone_who_never_wrote():
    with pytest.raises(RuleViolation, match="never wrote"):
        messaging_type(MESSENGER, outbound(None), NOW)


def test_the_request_is_a_send_api_text_message():
    assert request_body(MESSENGER, outbound(), NOW) == {
        "recipient": {"id": "1254477777772919"},
        "messaging_type": "RESPONSE",
        "message": {"text": "It ships today."},
    }
    assert request_body(INSTAGRAM, outbound(timedelta(days=2)), NOW) == {
        "recipient": {"id": "1254477777772919"},
        "messaging_type": "MESSAGE_TAG",
        "tag": "HUMAN_AGENT",
        "message": {"text": "It ships today."},
    }


def test_text_limits_messenger_counts_characters_and_instagram_utf8_bytes():
    check_text(MESSENGER, outbound(text="é" * 2000))
    with pytest.raises(RuleViolation, match="2001 characters") as refused:
        check_text(MESSENGER, outbound(text="x" * 2001))
    assert refused.value.code == "text_too_long"
    check_text(INSTAGRAM, outbound(text="x" * 1000))
    with pytest.raises(RuleViolation, match=r"1001 bytes of UTF-8 long .* at most 1000"):
        check_text(INSTAGRAM, outbound(text="é" * 500 + "x"))  # 501 characters, 1001 bytes


@pytest.mark.parametrize(
    ("status", "code", "subcode", "kind"),
    [
        (429, None, None, RetryableError),
        (400, 613, None, RetryableError),
        (400, 4, None, RetryableError),
        (400, 32, None, RetryableError),
        (500, 2, None, RetryableError),
        (400, 2, None, RetryableError),
        (503, None, None, RetryableError),
        (400, 1200, None, RetryableError),
        (400, 10, 2018278, RuleViolation),
        (400, 10, 2534022, RuleViolation),
        (403, 10, None, PermanentError),
        (400, 2, 2018344, PermanentError),
        (400, 551, 1545041, PermanentError),
        (400, 100, 2018001, PermanentError),
        (401, 190, None, PermanentError),
        (403, 200, None, PermanentError),
        (400, 230, None, PermanentError),
        (400, 368, 1390008, PermanentError),
    ],
)
def test_send_api_errors_are_retryable_permanent_or_a_closed_window(status, code, subcode, kind):
    error = {"message": "m", "type": "OAuthException", "fbtrace_id": "x"}
    if code is not None:
        error["code"] = code
    if subcode is not None:
        error["error_subcode"] = subcode
    classified = classify_error(status, {"error": error} if code is not None else {})
    assert type(classified) is kind
    if subcode is not None:
        assert classified.code == f"{code}/{subcode}"


async def test_send_posts_to_the_accounts_node_with_its_token_and_returns_the_mid():
    seen: list[httpx.Request] = []

    def provider(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"recipient_id": "1254477777772919", "message_id": "m_SENT1"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(provider)) as client:
        result = await send(client, "https://graph.example/v21.0/", MESSENGER, PAGE, outbound(), NOW)
    assert result.provider_message_id == "m_SENT1"
    [request] = seen
    assert str(request.url) == "https://graph.example/v21.0/108888888888881/messages"
    assert request.headers["authorization"] == "Bearer page-token"
    assert request.headers["content-type"] == "application/json"
    assert orjson.loads(request.content) == request_body(MESSENGER, outbound(), NOW)


@pytest.mark.parametrize(
    "refused",
    [outbound(timedelta(days=8)), outbound(timedelta(days=2), "bot"), outbound(text="x" * 2001)],
    ids=["after-7-days", "bot-after-24-hours", "too-long"],
)
async def test_a_send_the_rules_forbid_never_calls_the_provider(refused):
    def provider(request: httpx.Request) -> httpx.Response:
        raise AssertionError("the provider must not be called")

    async with httpx.AsyncClient(transport=httpx.MockTransport(provider)) as client:
        with pytest.raises(RuleViolation):
            await send(client, "https://graph.example/v21.0", MESSENGER, PAGE, refused, NOW)


async def test_an_unreachable_provider_is_retryable():
    def provider(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(provider)) as client:
        with pytest.raises(RetryableError):
            await send(client, "https://graph.example/v21.0", MESSENGER, PAGE, outbound(), NOW)


async def test_an_error_answer_is_classified_and_an_answer_without_a_mid_is_not_sent_again():
    answers = iter(
        [
            httpx.Response(400, json={"error": {"message": "(#551) unavailable", "code": 551}}),
            httpx.Response(200, json={"recipient_id": "1254477777772919"}),
        ]
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(lambda request: next(answers))) as client:
        with pytest.raises(PermanentError, match="551"):
            await send(client, "https://graph.example/v21.0", MESSENGER, PAGE, outbound(), NOW)
        with pytest.raises(PermanentError, match="without a message_id") as no_id:
            await send(client, "https://graph.example/v21.0", MESSENGER, PAGE, outbound(), NOW)
    assert not isinstance(no_id.value, RetryableError)
