"""What the provider sandbox received, and the failures and latency it was told to play."""

import asyncio
import itertools
import secrets
from collections import deque
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field


class Fault(BaseModel):
    """Answer the next `count` provider calls with `status` (429, 500...), after `delay_ms`."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    status: int = Field(ge=200, le=599)
    count: int = Field(default=1, ge=1)
    delay_ms: int = Field(default=0, ge=0, le=60_000)


class Latency(BaseModel):
    """Delay every provider answer by `delay_ms`."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    delay_ms: int = Field(ge=0, le=60_000)


class Sandbox:
    """What the sandbox received and the failures it was told to play."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.faults: deque[Fault] = deque()
        self.delay_ms = 0
        self._ids = itertools.count(1)

    def next_fault(self) -> Fault | None:
        if not self.faults:
            return None
        fault = self.faults[0]
        if fault.count > 1:
            self.faults[0] = fault.model_copy(update={"count": fault.count - 1})
        else:
            self.faults.popleft()
        return fault

    def next_id(self, prefix: str) -> str:
        """A provider-style message id, unique in this sandbox's life."""
        return f"{prefix}{next(self._ids):08d}{secrets.token_hex(6)}"

    async def receive(self, request: Request) -> tuple[Any, Fault | None]:
        """Record a provider call and play the fault or latency scripted for it.

        Returns the body (JSON when it is JSON, form fields when form-encoded, else text) and the fault
        this call must answer with, if any, after the scripted delay has passed.
        """
        raw = await request.body()
        body: Any
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("application/x-www-form-urlencoded"):
            body = {k: v for k, v in parse_qsl(raw.decode(), keep_blank_values=True)}
        else:
            try:
                body = orjson.loads(raw)
            except orjson.JSONDecodeError:
                body = raw.decode(errors="replace")
        self.requests.append(
            {
                "method": request.method,
                "path": request.url.path,
                "query": dict(request.query_params),
                "headers": dict(request.headers),
                "body": body,
                "received_at": datetime.now(UTC).isoformat(),
            }
        )
        fault = self.next_fault()
        delay_ms = fault.delay_ms if fault else self.delay_ms
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)  # plays a slow provider
        return body, fault
