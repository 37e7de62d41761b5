"""An SMTP sink: plays the mail relay email replies are handed to (dispatcher/channels/mailgun.py).

It listens on SWITCHBOARD_SANDBOX_SMTP_PORT (default 2525) of SWITCHBOARD_HOST inside the sandbox process,
on the app's own event loop (aiosmtpd's protocol, without its thread-running Controller), for as long as
the app runs: the router below has no HTTP route, only the lifespan that starts and stops the sink.

Each mail is recorded in `GET /sandbox/requests` beside the HTTP calls:
    {"method": "SMTP", "path": "smtp://<host>:<port>", "headers": {<lower-cased mail headers>},
     "body": {"from", "to", "subject", "message_id", "in_reply_to", "references", "text"},
     "envelope": {"mail_from", "rcpt_tos"}, ...}
where `text` is the plain-text body with `\n` line breaks (SMTP carries CRLF), without its final one.

Scripted faults apply to mail too, their HTTP meaning turned into SMTP's (RFC 5321 section 4.2.1): 429 and
5xx, retryable over HTTP, answer a transient 451; any other 4xx answers a permanent 550.
"""

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from typing import Any

from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import APIRouter, FastAPI

from sandbox.state import Fault, Sandbox


def smtp_reply(fault: Fault) -> str | None:
    """The SMTP reply a scripted fault answers with; None for a 2xx fault, which accepts the mail."""
    if fault.status < 400:
        return None
    if fault.status == 429:
        return "451 4.7.1 Too many messages, slow down (sandbox fault)"
    if fault.status >= 500:
        return "451 4.3.0 Temporary server error, try again later (sandbox fault)"
    return "550 5.1.1 Mailbox unavailable (sandbox fault)"


def mail_record(envelope: Envelope, where: str) -> dict[str, Any]:
    """What the sandbox keeps of one mail it received."""
    raw = envelope.content if isinstance(envelope.content, bytes) else (envelope.content or "").encode()
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    body = message.get_body(preferencelist=("plain",))
    text = body.get_content() if isinstance(body, EmailMessage) else ""
    return {
        "method": "SMTP",
        "path": where,
        "query": {},
        "headers": {name.lower(): str(value) for name, value in message.items()},
        "body": {
            "from": str(message.get("from", "")),
            "to": str(message.get("to", "")),
            "subject": str(message.get("subject", "")),
            "message_id": str(message.get("message-id", "")),
            "in_reply_to": str(message.get("in-reply-to", "")),
            "references": str(message.get("references", "")),
            "text": text.replace("\r\n", "\n").rstrip("\n"),
        },
        "envelope": {"mail_from": envelope.mail_from, "rcpt_tos": list(envelope.rcpt_tos)},
        "received_at": datetime.now(UTC).isoformat(),
    }


class _Recorder:
    """aiosmtpd's handler: record each mail, then play the scripted fault or latency."""

    def __init__(self, sandbox: Sandbox, where: str) -> None:
        self._sandbox = sandbox
        self._where = where

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        record = mail_record(envelope, self._where)
        self._sandbox.requests.append(record)
        fault = self._sandbox.next_fault("smtp")
        delay_ms = fault.delay_ms if fault else self._sandbox.delay_ms
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)  # plays a slow relay
        reply = smtp_reply(fault) if fault else None
        if reply is not None and fault is not None:
            record["refused"] = fault.status  # a mail refused is no send, as for the HTTP providers
        return reply or f"250 2.0.0 Ok: queued as {self._sandbox.next_id('SANDBOX')}"


def routes(sandbox: Sandbox) -> APIRouter:
    """A router without routes whose lifespan runs the SMTP sink."""
    host = os.environ.get("SWITCHBOARD_HOST", "127.0.0.1")
    port = int(os.environ.get("SWITCHBOARD_SANDBOX_SMTP_PORT", "2525"))

    @asynccontextmanager
    async def smtp_sink(app: FastAPI) -> AsyncIterator[None]:
        handler = _Recorder(sandbox, f"smtp://{host}:{port}")
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            lambda: SMTP(handler, hostname="sandbox.smtp.test", enable_SMTPUTF8=True, loop=loop), host, port
        )
        try:
            yield
        finally:
            server.close()
            await server.wait_closed()

    return APIRouter(lifespan=smtp_sink)
