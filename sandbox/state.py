"""What the provider sandbox received, and the failures and latency it was told to play."""

import asyncio
import itertools
import secrets
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field


class Fault(BaseModel):
    """Answer the next `count` provider calls with `status` (429, 500...), after `delay_ms`; or, with
    `seconds`, every call for that long from now (a provider down for a while). `retry_after` is sent as
    the `Retry-After` header (seconds), as a provider asks a client to wait. `path`: only calls whose path
    starts with it (`/v21.0/` is Meta's Graph API, `/bot` Telegram's, `smtp` the mail sink), so one
    provider can be down while the others answer."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    status: int = Field(ge=200, le=599)
    count: int = Field(default=1, ge=1)
    delay_ms: int = Field(default=0, ge=0, le=60_000)
    seconds: float | None = Field(default=None, gt=0, le=24 * 3600)
    retry_after: int | None = Field(default=None, ge=0, le=24 * 3600)
    path: str | None = Field(default=None, max_length=500)

    def applies_to(self, path: str) -> bool:
        return self.path is None or path.startswith(self.path)


class Latency(BaseModel):
    """Delay every provider answer by `delay_ms`."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    delay_ms: int = Field(ge=0, le=60_000)


Arrival = Callable[[Any, "Fault | None"], None]


def fault_headers(fault: Fault) -> dict[str, str]:
    """The headers a faulted answer carries: `Retry-After` when the fault names one."""
    return {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}


def accepted(requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The calls a provider took: neither refused by a fault nor answered as a repeat of an idempotency key."""
    return [r for r in requests if not r.get("refused") and not r.get("replay")]


class Sandbox:
    """What the sandbox received and the failures it was told to play."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.faults: deque[Fault] = deque()
        self.outages: list[tuple[float, Fault]] = []  # (until, fault) for faults given in seconds
        self.delay_ms = 0
        self._ids = itertools.count(1)

    def add_fault(self, fault: Fault) -> None:
        """Script a fault: counted calls, or every call for `seconds` from now."""
        if fault.seconds is not None:
            self.outages.append((time.monotonic() + fault.seconds, fault))
        else:
            self.faults.append(fault)

    def clear_faults(self) -> None:
        self.faults.clear()
        self.outages.clear()
        self.delay_ms = 0

    def next_fault(self, path: str = "") -> Fault | None:
        """The fault the next call to `path` answers with, if one is scripted for it."""
        now = time.monotonic()
        self.outages = [(until, fault) for until, fault in self.outages if until > now]
        for _, fault in self.outages:
            if fault.applies_to(path):
                return fault
        for index, fault in enumerate(self.faults):
            if not fault.applies_to(path):
                continue
            if fault.count > 1:
                self.faults[index] = fault.model_copy(update={"count": fault.count - 1})
            else:
                del self.faults[index]
            return fault
        return None

    def next_id(self, prefix: str) -> str:
        """A provider-style message id, unique in this sandbox's life."""
        return f"{prefix}{next(self._ids):08d}{secrets.token_hex(6)}"

    async def receive(self, request: Request, arrived: Arrival | None = None) -> tuple[Any, Fault | None]:
        """Record a provider call and play the fault or latency scripted for it.

        Returns the body (JSON when it is JSON, form fields when form-encoded, else text) and the fault
        this call must answer with, if any, after the scripted delay has passed. `arrived(body, fault)` runs
        before the delay: what a provider decides on arrival (an idempotency key taken) is decided then,
        as a real one does while a slow answer is still on its way. The call's record is `request.state.record`
        (a provider marks `"replay": true` there when it answered a repeated idempotency key).
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
        record = {
            "method": request.method,
            "path": request.url.path,
            "query": dict(request.query_params),
            "headers": dict(request.headers),
            "body": body,
            "received_at": datetime.now(UTC).isoformat(),
        }
        self.requests.append(record)
        request.state.record = record
        fault = self.next_fault(request.url.path)
        if fault is not None:
            record["refused"] = fault.status  # not taken: a provider refusal is no send
            request.state.fault = fault
        if arrived is not None:
            arrived(body, fault)
        delay_ms = fault.delay_ms if fault else self.delay_ms
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)  # plays a slow provider
        return body, fault
