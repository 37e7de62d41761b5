from datetime import UTC, datetime
from uuid import UUID

import httpx
import orjson
import pytest
from pydantic import SecretStr

from dispatcher.channels.webchat import classify_error, request_body, send
from dispatcher.errors import PermanentError, RetryableError
from dispatcher.result import SendResult
from schemas.outbound import OutboundMessage
from services.accounts import ChannelAccount
from services.webchat_signature import verify_signature

NOW = datetime(2026, 11, 23, 12, 0, 3, tzinfo=UTC)
SITE = ChannelAccount(channel="webchat", external_id="shop-1", name="Shop")
SITE_WITH_KEY = ChannelAccount(channel="webchat", external_id="shop-2", name="Shop 2", webhook_secret=SecretStr("k2"))
REPLY_ID = UUID("3f2b8e4c-1d6a-4b7e-9c0f-5a6b7c8d9e0f")


def outbound(site: ChannelAccount = SITE, visitor: str = "v-8c1f"):
    return OutboundMessage(
        message_id=REPLY_ID,
        conversation_id=UUID(int=1),
        channel="webchat",
        account_external_id=site.external_id,
        recipient_external_id=f"{site.external_id}:{visitor}",
        text="It ships today.",
        author="agent",
        created_at=NOW,
        customer_last_message_at=None,  # webchat has no window
    )


def test_the_request_names_the_site_the_visitor_and_the_reply():
    assert request_body(SITE, outbound(visitor="v:with:colons"), NOW) == {
        "site_id": "shop-1",
        "visitor_id": "v:with:colons",
        "message_id": "3f2b8e4c-1d6a-4b7e-9c0f-5a6b7c8d9e0f",
        "text": "It ships today.",
        "sent_at": "2026-11-23T12:00:03+00:00",
    }


def test_a_recipient_of_another_site_is_refused():
    with pytest.raises(PermanentError, match="not a visitor of site"):
        request_body(SITE_WITH_KEY, outbound(SITE), NOW)


async def post(
    site: ChannelAccount, default_key: bytes, answer: httpx.Response
) -> tuple[list[httpx.Request], SendResult]:
    seen: list[httpx.Request] = []

    def backend(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer

    async with httpx.AsyncClient(transport=httpx.MockTransport(backend)) as client:
        result = await send(client, "https://chat.shop.example/api/", default_key, site, outbound(site), NOW)
    return seen, result


async def test_send_posts_the_signed_reply_to_the_sites_backend():
    seen, result = await post(SITE, b"channel-key", httpx.Response(200, json={"status": "delivered"}))
    [request] = seen
    assert str(request.url) == "https://chat.shop.example/api/messages"
    assert request.headers["content-type"] == "application/json"
    assert orjson.loads(request.content) == request_body(SITE, outbound(), NOW)
    verify_signature(b"channel-key", dict(request.headers), request.content, now=NOW.timestamp(), tolerance_s=0)
    assert result.provider_message_id == "shop-1:3f2b8e4c-1d6a-4b7e-9c0f-5a6b7c8d9e0f"


async def test_a_site_with_its_own_key_gets_replies_signed_with_it():
    seen, _ = await post(SITE_WITH_KEY, b"channel-key", httpx.Response(202))
    [request] = seen
    verify_signature(b"k2", dict(request.headers), request.content, now=NOW.timestamp(), tolerance_s=0)


async def test_without_any_key_nothing_is_sent():
    def backend(request: httpx.Request) -> httpx.Response:
        raise AssertionError("an unsigned reply must not be sent")

    async with httpx.AsyncClient(transport=httpx.MockTransport(backend)) as client:
        with pytest.raises(PermanentError, match="no signing key"):
            await send(client, "https://chat.shop.example/api", b"", SITE, outbound(), NOW)


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (429, RetryableError),
        (500, RetryableError),
        (503, RetryableError),
        (400, PermanentError),
        (401, PermanentError),
        (404, PermanentError),
        (410, PermanentError),
    ],
)
def test_429_and_5xx_are_retryable_and_other_answers_permanent(status, kind):
    error = classify_error(status, '{"error": "x", "detail": "y"}')
    assert type(error) is kind
    assert error.code == str(status)


async def test_a_refusal_from_the_backend_raises_its_class():
    with pytest.raises(RetryableError, match="HTTP 503"):
        await post(SITE, b"k", httpx.Response(503, json={"error": "unavailable", "detail": "deploying"}))
    with pytest.raises(PermanentError, match="unknown visitor"):
        await post(SITE, b"k", httpx.Response(404, json={"error": "not_found", "detail": "unknown visitor"}))


async def test_an_unreachable_backend_is_retryable():
    def backend(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(backend)) as client:
        with pytest.raises(RetryableError):
            await send(client, "https://chat.shop.example/api", b"k", SITE, outbound(), NOW)
