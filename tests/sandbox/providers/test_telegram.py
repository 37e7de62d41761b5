"""The sandbox's Bot API sendMessage answers as Telegram does, and the dispatcher's Telegram channel reads it."""

import uuid
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from dispatcher.channels.telegram import send
from dispatcher.errors import PermanentError, RetryableError
from sandbox.providers.telegram import routes
from sandbox.state import Fault, Sandbox
from schemas.outbound import OutboundMessage
from services.accounts import ChannelAccount

TOKEN = "7000000001:test-telegram-bot-token"
PATH = f"/bot{TOKEN}/sendMessage"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ACCOUNT = ChannelAccount(channel="telegram", external_id="7000000001", name="bot", access_token=SecretStr(TOKEN))


@pytest.fixture
def sandbox():
    return Sandbox()


@pytest.fixture
async def telegram(sandbox):
    app = FastAPI()
    app.include_router(routes(sandbox))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox") as client:
        yield client


async def test_send_message_answers_with_the_message_numbered_per_chat(telegram, sandbox):
    first = (await telegram.post(PATH, json={"chat_id": 111, "text": "hi"})).json()
    second = (await telegram.post(PATH, json={"chat_id": 111, "text": "again"})).json()
    other_chat = (await telegram.post(PATH, data={"chat_id": "222", "text": "form-encoded"})).json()
    assert first["ok"] is True
    assert first["result"]["chat"] == {"id": 111, "type": "private"}
    assert first["result"]["from"]["id"] == 7000000001
    assert first["result"]["text"] == "hi"
    assert [first["result"]["message_id"], second["result"]["message_id"], other_chat["result"]["message_id"]] == [
        1,
        2,
        1,
    ]
    assert sandbox.requests[0]["path"] == PATH
    assert sandbox.requests[2]["body"] == {"chat_id": "222", "text": "form-encoded"}


@pytest.mark.parametrize(
    ("path", "body", "status", "description"),
    [
        ("/botnot-a-token/sendMessage", {"chat_id": 1, "text": "x"}, 404, "Not Found"),
        (PATH, {"text": "x"}, 400, "Bad Request: chat_id is empty"),
        (PATH, {"chat_id": 1, "text": " "}, 400, "Bad Request: message text is empty"),
        (PATH, {"chat_id": 1, "text": "a" * 4097}, 400, "Bad Request: message is too long"),
    ],
)
async def test_requests_telegram_would_refuse_are_refused(telegram, path, body, status, description):
    response = await telegram.post(path, json=body)
    assert response.status_code == status
    assert response.json() == {"ok": False, "error_code": status, "description": description}


async def test_a_scripted_rate_limit_says_when_to_retry(telegram, sandbox):
    sandbox.faults.append(Fault(status=429))
    response = await telegram.post(PATH, json={"chat_id": 1, "text": "x"})
    assert response.status_code == 429
    assert response.json()["parameters"] == {"retry_after": 1}


def outbound() -> OutboundMessage:
    return OutboundMessage(
        message_id=uuid.uuid4(),
        conversation_id=uuid.uuid4(),
        channel="telegram",
        account_external_id="7000000001",
        recipient_external_id="111",
        text="On it.",
        author="agent",
        created_at=NOW,
        customer_last_message_at=NOW,
        reply_context={"chat_id": "111"},
    )


async def test_the_dispatcher_reads_the_sandboxs_answers(telegram, sandbox):
    result = await send(telegram, "http://sandbox", ACCOUNT, outbound(), NOW)
    assert result.provider_message_id == "111:1"
    sandbox.faults.extend([Fault(status=403), Fault(status=502)])
    with pytest.raises(PermanentError, match="blocked by the user"):
        await send(telegram, "http://sandbox", ACCOUNT, outbound(), NOW)
    with pytest.raises(RetryableError, match="Bad Gateway"):
        await send(telegram, "http://sandbox", ACCOUNT, outbound(), NOW)
