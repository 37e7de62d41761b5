from datetime import UTC, datetime
from uuid import uuid4

import httpx
from pydantic import SecretStr

from dispatcher.channels.instagram import INSTAGRAM, sender
from dispatcher.settings import DispatcherSettings
from schemas.outbound import OutboundMessage
from services.accounts import ChannelAccount

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_instagram_allows_1000_bytes_of_utf8():
    assert (INSTAGRAM.channel, INSTAGRAM.max_text, INSTAGRAM.measure("ü" * 10)) == ("instagram", 1000, 20)


def test_the_default_base_is_the_instagram_login_stack():
    assert DispatcherSettings().instagram_api_base.startswith("https://graph.instagram.com/")


async def test_the_sender_posts_to_the_professional_account_under_the_configured_instagram_base():
    seen: list[httpx.Request] = []

    def provider(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"recipient_id": "6353574184717530", "message_id": "aWdf_1"})

    send = sender(DispatcherSettings(instagram_api_base="https://graph.example/v22.0"))
    account = ChannelAccount(
        channel="instagram", external_id="17841400000000001", name="IG", access_token=SecretStr("ig-token")
    )
    reply = OutboundMessage(
        message_id=uuid4(),
        conversation_id=uuid4(),
        channel="instagram",
        account_external_id=account.external_id,
        recipient_external_id="6353574184717530",
        text="hi",
        author="agent",
        created_at=NOW,
        customer_last_message_at=NOW,
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(provider)) as client:
        assert (await send(client, account, reply, NOW)).provider_message_id == "aWdf_1"
    [request] = seen
    assert str(request.url) == "https://graph.example/v22.0/17841400000000001/messages"
    assert request.headers["authorization"] == "Bearer ig-token"
