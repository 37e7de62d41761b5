"""`POST /sandbox/webhooks/{channel}`: the sandbox writes as a customer would, on any channel.

It composes the provider's signed webhook for one text message (sandbox/webhooks/compose.py), with the
stack's own secrets and its first account on that channel (the SWITCHBOARD_* variables the sandbox runs
with), and posts it to ingest, which the provider would do. For demos and manual testing; the answer shows
what was posted and what ingest said.
"""

import itertools
import os
import secrets
import time

import httpx
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from sandbox.webhooks.compose import CHANNELS, Accounts, Secrets, compose

_telegram_message_ids = itertools.count(int(time.time()) % 1_000_000 * 1000)  # above the sandbox's own


class CustomerMessage(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    sender: str = Field(alias="from", min_length=1, description="the customer's id as the channel writes it")
    text: str = Field(min_length=1, max_length=4096)
    message_id: str | None = Field(default=None, description="the provider's id; a fresh one when left out")


def routes() -> APIRouter:
    router = APIRouter()
    ingest_url = os.environ.get("SWITCHBOARD_SANDBOX_INGEST_URL", "http://127.0.0.1:8080")
    stack_secrets = Secrets.from_env(os.environ)
    accounts = Accounts.from_configured(os.environ.get("SWITCHBOARD_ACCOUNTS", ""))

    @router.post("/sandbox/webhooks/{channel}")
    async def customer_writes(channel: str, message: CustomerMessage) -> JSONResponse:
        if channel not in CHANNELS:
            return JSONResponse(
                {"error": "unknown_channel", "detail": f"one of {', '.join(sorted(CHANNELS))}"}, status_code=404
            )
        default_id = str(next(_telegram_message_ids)) if channel == "telegram" else f"sandbox{secrets.token_hex(8)}"
        try:
            delivery = compose(
                channel,
                message.sender,
                message.message_id or default_id,
                message.text,
                ingest_url=ingest_url,
                secrets=stack_secrets,
                accounts=accounts,
            )
        except ValueError as error:  # e.g. a Telegram id that is not a number
            return JSONResponse({"error": "invalid_request", "detail": str(error)}, status_code=422)
        async with httpx.AsyncClient(timeout=10) as http:
            answer = await http.post(
                f"{ingest_url}{delivery.path}", content=delivery.webhook.body, headers=delivery.webhook.headers
            )
        return JSONResponse(
            {
                "posted": {"url": f"{ingest_url}{delivery.path}", "headers": delivery.webhook.headers},
                "ingest": {"status": answer.status_code, "body": answer.text},
            },
            status_code=200 if answer.is_success else 502,
        )

    return router
