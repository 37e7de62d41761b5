from collections.abc import AsyncIterator
from datetime import UTC, datetime
from uuid import UUID

import pytest
from fastapi import FastAPI

from dispatcher.channels.mailgun import SmtpRelay, send
from dispatcher.errors import PermanentError, RetryableError
from loadtests.ports import free_port
from sandbox.providers import smtp
from sandbox.state import Fault, Sandbox
from schemas.outbound import OutboundMessage
from services.accounts import ChannelAccount

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ACCOUNT = ChannelAccount(channel="mailgun", external_id="support@switchboard.test", name="Support")
REPLY = OutboundMessage(
    message_id=UUID("7c8d1a2e-5b7f-4c1a-9d8e-2f3a4b5c6d7e"),
    conversation_id=UUID(int=1),
    channel="mailgun",
    account_external_id=ACCOUNT.external_id,
    recipient_external_id="bob@ex.com",
    text="Your order ships today.\nRegards",
    author="agent",
    created_at=NOW,
    customer_last_message_at=None,
    reply_context={"subject": "Order 42", "message_id": "<abc@ex.com>", "references": ""},
)


@pytest.fixture
async def sink(monkeypatch) -> AsyncIterator[tuple[Sandbox, SmtpRelay]]:
    port = free_port()
    monkeypatch.setenv("SWITCHBOARD_SANDBOX_SMTP_PORT", str(port))
    monkeypatch.setenv("SWITCHBOARD_HOST", "127.0.0.1")
    sandbox = Sandbox()
    app = FastAPI()
    app.include_router(smtp.routes(sandbox))
    async with app.router.lifespan_context(app):
        yield sandbox, SmtpRelay("127.0.0.1", port, "", "", starttls=False, timeout_s=5)


async def test_the_sink_records_each_mail_as_a_sandbox_request(sink):
    sandbox, relay = sink
    result = await send(relay, ACCOUNT, REPLY, NOW)
    [record] = sandbox.requests
    assert (record["method"], record["path"]) == ("SMTP", f"smtp://127.0.0.1:{relay.port}")
    assert record["body"] == {
        "from": "Support <support@switchboard.test>",
        "to": "bob@ex.com",
        "subject": "Re: Order 42",
        "message_id": result.provider_message_id,
        "in_reply_to": "<abc@ex.com>",
        "references": "<abc@ex.com>",
        "text": "Your order ships today.\nRegards",
    }
    assert record["envelope"] == {"mail_from": "support@switchboard.test", "rcpt_tos": ["bob@ex.com"]}
    assert record["headers"]["message-id"] == result.provider_message_id
    assert record["headers"]["content-type"].startswith("text/plain")


@pytest.mark.parametrize(("status", "kind"), [(429, RetryableError), (503, RetryableError), (400, PermanentError)])
async def test_scripted_faults_answer_as_a_relay_would(sink, status, kind):
    sandbox, relay = sink
    sandbox.faults.append(Fault(status=status))
    with pytest.raises(kind):
        await send(relay, ACCOUNT, REPLY, NOW)
    await send(relay, ACCOUNT, REPLY, NOW)  # the fault is spent: the next mail is taken
    assert len(sandbox.requests) == 2
    # A refused mail was not sent: the load report counts only what the relay took as delivered.
    assert [r.get("refused") for r in sandbox.requests] == [status, None]
