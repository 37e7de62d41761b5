from datetime import UTC, datetime, timedelta
from uuid import uuid4

import httpx
import orjson
import pytest
from pydantic import SecretStr

from dispatcher.channels.whatsapp import check_window, classify_error, request_body, send
from dispatcher.errors import PermanentError, RetryableError, RuleViolation
from schemas.outbound import OutboundMessage
from services.accounts import ChannelAccount

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ACCOUNT = ChannelAccount(
    channel="whatsapp", external_id="106540352242922", name="dev", access_token=SecretStr("token-1")
)


def outbound(last_message_ago: timedelta | None = timedelta(hours=1), reply_to: str | None = None):
    return OutboundMessage(
        message_id=uuid4(),
        conversation_id=uuid4(),
        channel="whatsapp",
        account_external_id=ACCOUNT.external_id,
        recipient_external_id="972987654321",
        text="Your order ships today.",
        author="agent",
        created_at=NOW,
        customer_last_message_at=None if last_message_ago is None else NOW - last_message_ago,
        reply_to_provider_message_id=reply_to,
    )


def test_the_window_is_open_for_24_hours_after_the_customers_last_message():
    check_window(outbound(timedelta(hours=23, minutes=59)), NOW)
    check_window(outbound(timedelta(hours=24)), NOW)
    with pytest.raises(RuleViolation, match="template"):
        check_window(outbound(timedelta(hours=24, seconds=1)), NOW)
    with pytest.raises(RuleViolation, match="never wrote"):
        check_window(outbound(None), NOW)


def test_the_request_is_a_cloud_api_text_message():
    assert request_body(outbound()) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "972987654321",
        "type": "text",
        "text": {"preview_url": False, "body": "Your order ships today."},
    }
    assert request_body(outbound(reply_to="wamid.X"))["context"] == {"message_id": "wamid.X"}


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (429, 130429, RetryableError),
        (400, 130429, RetryableError),
        (400, 131056, RetryableError),
        (500, 1, RetryableError),
        (503, None, RetryableError),
        (400, 131047, RuleViolation),
        (400, 131026, PermanentError),
        (401, 190, PermanentError),
        (400, 100, PermanentError),
    ],
)
def test_provider_errors_are_retryable_or_permanent(status, code, kind):
    body = {} if code is None else {"error": {"message": "m", "type": "OAuthException", "code": code}}
    error = classify_error(status, body)
    assert type(error) is kind


async def test_send_posts_to_the_phone_number_with_the_accounts_token():
    seen: list[httpx.Request] = []

    def provider(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={
                "messaging_product": "whatsapp",
                "contacts": [{"input": "972987654321", "wa_id": "972987654321"}],
                "messages": [{"id": "wamid.SENT1"}],
            },
        )

    async with httpx.AsyncClient(transport=httpx.MockTransport(provider)) as client:
        result = await send(client, "https://graph.example/v21.0/", ACCOUNT, outbound(), NOW)
    assert result.provider_message_id == "wamid.SENT1"
    [request] = seen
    assert str(request.url) == "https://graph.example/v21.0/106540352242922/messages"
    assert request.headers["authorization"] == "Bearer token-1"
    assert orjson.loads(request.content) == request_body(outbound())


async def test_send_outside_the_window_never_calls_the_provider():
    def provider(request: httpx.Request) -> httpx.Response:
        raise AssertionError("the provider must not be called")

    async with httpx.AsyncClient(transport=httpx.MockTransport(provider)) as client:
        with pytest.raises(RuleViolation):
            await send(client, "https://graph.example/v21.0", ACCOUNT, outbound(timedelta(days=2)), NOW)


async def test_an_unreachable_provider_is_retryable():
    def provider(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(provider)) as client:
        with pytest.raises(RetryableError):
            await send(client, "https://graph.example/v21.0", ACCOUNT, outbound(), NOW)
