"""The sandbox's LINE send API answers as LINE does, and the dispatcher's LINE channel copes with each answer."""

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr

from dispatcher.channels.line import send
from sandbox.providers.line import routes
from sandbox.state import Fault, Sandbox
from schemas.outbound import OutboundMessage
from services.accounts import ChannelAccount

AUTH = {"authorization": "Bearer line-token"}
TEXT = [{"type": "text", "text": "hello"}]
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ACCOUNT = ChannelAccount(channel="line", external_id="Ubot", name="bot", access_token=SecretStr("line-token"))


@pytest.fixture
def sandbox():
    return Sandbox()


@pytest.fixture
async def line(sandbox):
    app = FastAPI()
    app.include_router(routes(sandbox))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox") as client:
        yield client


async def test_a_reply_token_works_once(line, sandbox):
    first = await line.post("/v2/bot/message/reply", json={"replyToken": "t1", "messages": TEXT}, headers=AUTH)
    assert first.status_code == 200
    [message] = first.json()["sentMessages"]
    assert message["id"].isdigit()
    assert message["quoteToken"]
    assert first.headers["x-line-request-id"]
    again = await line.post("/v2/bot/message/reply", json={"replyToken": "t1", "messages": TEXT}, headers=AUTH)
    assert (again.status_code, again.json()) == (400, {"message": "Invalid reply token"})
    assert [r["path"] for r in sandbox.requests] == ["/v2/bot/message/reply"] * 2


async def test_a_push_retry_key_is_executed_once_and_a_repeat_names_the_accepted_request(line):
    headers = {**AUTH, "x-line-retry-key": str(uuid.uuid4())}
    first = await line.post("/v2/bot/message/push", json={"to": "U1", "messages": TEXT * 2}, headers=headers)
    assert first.status_code == 200
    assert len(first.json()["sentMessages"]) == 2
    again = await line.post("/v2/bot/message/push", json={"to": "U1", "messages": TEXT * 2}, headers=headers)
    assert again.status_code == 409
    assert again.json() == {
        "message": "The retry key is already accepted",
        "sentMessages": first.json()["sentMessages"],
    }
    assert again.headers["x-line-accepted-request-id"] == first.headers["x-line-request-id"]


@pytest.mark.parametrize(
    ("path", "body", "headers", "status", "message"),
    [
        ("push", {"to": "U1", "messages": TEXT}, {}, 401, "Authentication failed"),
        ("push", {"to": "U1", "messages": []}, AUTH, 400, "1 error"),
        ("push", {"to": "U1", "messages": TEXT * 6}, AUTH, 400, "1 error"),
        ("push", {"to": "U1", "messages": [{"type": "text", "text": "a" * 5001}]}, AUTH, 400, "1 error"),
        ("push", {"messages": TEXT}, AUTH, 400, "1 error"),
        ("push", {"to": "U1", "messages": TEXT}, {**AUTH, "x-line-retry-key": "not-a-uuid"}, 400, "Retry-Key"),
        ("reply", {"replyToken": "t", "messages": TEXT}, {**AUTH, "x-line-retry-key": str(uuid.uuid4())}, 400, "Retry"),
        ("reply", {"messages": TEXT}, AUTH, 400, "1 error"),
    ],
)
async def test_requests_line_would_refuse_are_refused(line, path, body, headers, status, message):
    response = await line.post(f"/v2/bot/message/{path}", json=body, headers=headers)
    assert response.status_code == status
    assert message in response.json()["message"]


async def test_scripted_faults_answer_with_lines_error_body(line, sandbox):
    sandbox.faults.append(Fault(status=429))
    response = await line.post("/v2/bot/message/push", json={"to": "U1", "messages": TEXT}, headers=AUTH)
    assert response.status_code == 429
    assert "rate limit" in response.json()["message"]


def outbound(written_ago: timedelta) -> OutboundMessage:
    return OutboundMessage(
        message_id=uuid.uuid4(),
        conversation_id=uuid.uuid4(),
        channel="line",
        account_external_id="Ubot",
        recipient_external_id="Ucustomer",
        text="On it.",
        author="agent",
        created_at=NOW,
        customer_last_message_at=NOW - written_ago,
        reply_context={"reply_token": "shared-token"},
    )


async def test_the_dispatcher_replies_then_pushes_once_the_token_is_spent_and_a_resent_push_is_not_doubled(
    line, sandbox
):
    first = await send(line, "http://sandbox", ACCOUNT, outbound(timedelta(seconds=3)), NOW)
    second_reply = outbound(timedelta(seconds=3))
    second = await send(line, "http://sandbox", ACCOUNT, second_reply, NOW)
    assert [r["path"] for r in sandbox.requests] == [
        "/v2/bot/message/reply",
        "/v2/bot/message/reply",
        "/v2/bot/message/push",
    ]
    # The push's answer was lost: sent again under the same retry key, it is the same message.
    again = await send(line, "http://sandbox", ACCOUNT, second_reply, NOW)
    assert again == second != first
    assert sandbox.requests[-1]["headers"]["x-line-retry-key"] == str(second_reply.message_id)
