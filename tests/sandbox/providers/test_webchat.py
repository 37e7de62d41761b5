from collections.abc import AsyncIterator
from datetime import UTC, datetime
from uuid import UUID

import httpx
import orjson
import pytest
from fastapi import FastAPI

from dispatcher.channels.webchat import send
from dispatcher.errors import RetryableError
from sandbox.providers import webchat
from sandbox.state import Fault, Sandbox
from schemas.outbound import OutboundMessage
from services.accounts import ChannelAccount
from services.webchat_signature import signature_headers

SITE = ChannelAccount(channel="webchat", external_id="site-test", name="Site")
BASE = "http://sandbox.test/webchat"


def reply(message_id: int) -> OutboundMessage:
    return OutboundMessage(
        message_id=UUID(int=message_id),
        conversation_id=UUID(int=1),
        channel="webchat",
        account_external_id="site-test",
        recipient_external_id="site-test:v-1",
        text=f"reply {message_id}",
        author="agent",
        created_at=datetime.now(UTC),
        customer_last_message_at=None,
    )


@pytest.fixture
async def backend(monkeypatch) -> AsyncIterator[tuple[Sandbox, httpx.AsyncClient]]:
    monkeypatch.setenv("SWITCHBOARD_WEBCHAT_SIGNING_KEY", "channel-key")
    monkeypatch.setenv("SWITCHBOARD_ACCOUNTS", "[]")
    sandbox = Sandbox()
    app = FastAPI()
    app.include_router(webchat.routes(sandbox))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox.test") as client:
        yield sandbox, client


async def test_a_signed_reply_is_delivered_once_and_served_to_the_widget(backend):
    sandbox, client = backend
    first = await send(client, BASE, b"channel-key", SITE, reply(1), datetime.now(UTC))
    await send(client, BASE, b"channel-key", SITE, reply(1), datetime.now(UTC))  # a retry after a lost answer
    await send(client, BASE, b"channel-key", SITE, reply(2), datetime.now(UTC))
    assert first.provider_message_id == f"site-test:{UUID(int=1)}"
    assert len(sandbox.requests) == 3
    assert sandbox.requests[0]["path"] == "/webchat/messages"
    widget = await client.get("/webchat/sites/site-test/visitors/v-1/messages")
    assert [(m["message_id"], m["text"]) for m in widget.json()["items"]] == [
        (str(UUID(int=1)), "reply 1"),
        (str(UUID(int=2)), "reply 2"),
    ]
    assert (await client.get("/webchat/sites/site-test/visitors/v-2/messages")).json() == {"items": []}


async def test_a_reply_signed_with_another_key_or_unsigned_is_refused(backend):
    _, client = backend
    body = orjson.dumps(
        {
            "site_id": "site-test",
            "visitor_id": "v-1",
            "message_id": "m",
            "text": "x",
            "sent_at": datetime.now(UTC).isoformat(),
        }
    )
    wrong = await client.post(
        "/webchat/messages", content=body, headers=signature_headers(b"other-key", body, datetime.now(UTC).timestamp())
    )
    assert (wrong.status_code, wrong.json()["error"]) == (401, "bad_signature")
    unsigned = await client.post("/webchat/messages", content=body)
    assert unsigned.status_code == 401
    malformed = await client.post("/webchat/messages", json={"site_id": "site-test"})
    assert (malformed.status_code, malformed.json()["error"]) == (400, "bad_payload")


async def test_a_scripted_fault_is_answered_with_its_status(backend):
    sandbox, client = backend
    sandbox.faults.append(Fault(status=503))
    with pytest.raises(RetryableError, match="HTTP 503"):
        await send(client, BASE, b"channel-key", SITE, reply(3), datetime.now(UTC))
    assert (await client.get("/webchat/sites/site-test/visitors/v-1/messages")).json() == {"items": []}


async def test_a_repeated_idempotency_key_is_answered_as_the_first_and_delivers_nothing(backend):
    sandbox, client = backend
    await send(client, BASE, b"channel-key", SITE, reply(3), datetime.now(UTC))
    await send(client, BASE, b"channel-key", SITE, reply(3), datetime.now(UTC))
    first, repeat = sandbox.requests
    assert first["headers"]["idempotency-key"] == repeat["headers"]["idempotency-key"] == str(UUID(int=3))
    assert "replay" not in first
    assert repeat["replay"] is True


async def test_a_key_whose_request_was_refused_may_be_used_again(backend):
    sandbox, client = backend
    sandbox.add_fault(Fault(status=503))
    with pytest.raises(RetryableError):
        await send(client, BASE, b"channel-key", SITE, reply(4), datetime.now(UTC))
    await send(client, BASE, b"channel-key", SITE, reply(4), datetime.now(UTC))
    refused, accepted = sandbox.requests
    assert refused["refused"] == 503
    assert "replay" not in accepted
