from datetime import UTC, datetime
from uuid import uuid4

import httpx
from pydantic import SecretStr

from dispatcher.channels.messenger import MESSENGER, sender
from dispatcher.settings import DispatcherSettings
from schemas.outbound import OutboundMessage
from services.accounts import ChannelAccount

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def test_messenger_allows_2000_characters():
    assert (MESSENGER.channel, MESSENGER.max_text, MESSENGER.measure("ü" * 10)) == ("messenger", 2000, 10)


async def test_the_sender_posts_to_the_page_under_the_configured_messenger_base():
    seen: list[httpx.Request] = []

    def provider(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"recipient_id": "1254477777772919", "message_id": "m_1"})

    send = sender(DispatcherSettings(messenger_api_base="https://graph.example/v22.0"))
    page = ChannelAccount(channel="messenger", external_id="108888888888881", name="Page", access_token=SecretStr("t"))
    reply = OutboundMessage(
        message_id=uuid4(),
        conversation_id=uuid4(),
        channel="messenger",
        account_external_id=page.external_id,
        recipient_external_id="1254477777772919",
        text="hi",
        author="agent",
        created_at=NOW,
        customer_last_message_at=NOW,
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(provider)) as client:
        assert (await send(client, page, reply, NOW)).provider_message_id == "m_1"
    assert [str(r.url) for r in seen] == ["https://graph.example/v22.0/108888888888881/messages"]
