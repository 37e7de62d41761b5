"""The provider sandbox: plays the providers' send APIs at the paths the real ones use.

`SWITCHBOARD_<CHANNEL>_API_BASE` pointing here is the only difference from production. Tests read
what arrived (`GET /sandbox/requests`) and script failures (`POST /sandbox/faults`).
"""

import asyncio
import itertools
import secrets
from collections import deque
from datetime import UTC, datetime
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.health import health_routes
from services.metrics import FASTAPI_TELEMETRY_OFF, metrics_routes


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

    def next_wamid(self) -> str:
        return f"wamid.sandbox{next(self._ids):08d}{secrets.token_hex(6)}"


def _meta_error(status: int) -> dict[str, Any]:
    # Graph API error bodies (developers.facebook.com/docs/graph-api/guides/error-handling).
    if status == 429:
        return {
            "error": {
                "message": "(#130429) Rate limit hit",
                "type": "OAuthException",
                "code": 130429,
                "fbtrace_id": "sandbox",
            }
        }
    return {
        "error": {"message": "An unknown error occurred", "type": "OAuthException", "code": 1, "fbtrace_id": "sandbox"}
    }


def create_app() -> FastAPI:
    sandbox = Sandbox()
    app = FastAPI(title="Switchboard provider sandbox", telemetry=FASTAPI_TELEMETRY_OFF)
    app.include_router(metrics_routes)

    async def always_ready() -> bool:
        return True

    app.include_router(health_routes({"sandbox": always_ready}))

    @app.get("/sandbox/requests")
    async def received() -> dict[str, list[dict[str, Any]]]:
        return {"items": sandbox.requests}

    @app.get("/sandbox/stats")
    async def stats() -> dict[str, int]:
        """How many sends arrived, and how many distinct ones: the difference is sends received twice."""
        distinct = {orjson.dumps(r["body"], option=orjson.OPT_SORT_KEYS) for r in sandbox.requests}
        return {"requests": len(sandbox.requests), "distinct_bodies": len(distinct)}

    @app.delete("/sandbox/requests", status_code=204)
    async def clear() -> Response:
        sandbox.requests.clear()
        return Response(status_code=204)

    @app.post("/sandbox/faults", status_code=204)
    async def add_fault(fault: Fault) -> Response:
        sandbox.faults.append(fault)
        return Response(status_code=204)

    @app.delete("/sandbox/faults", status_code=204)
    async def clear_faults() -> Response:
        sandbox.faults.clear()
        sandbox.delay_ms = 0
        return Response(status_code=204)

    @app.put("/sandbox/latency", status_code=204)
    async def set_latency(latency: Latency) -> Response:
        sandbox.delay_ms = latency.delay_ms
        return Response(status_code=204)

    @app.post("/{version}/{phone_number_id}/messages")
    async def whatsapp_send(version: str, phone_number_id: str, request: Request) -> JSONResponse:
        raw = await request.body()
        body: Any
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = raw.decode(errors="replace")
        sandbox.requests.append(
            {
                "method": request.method,
                "path": request.url.path,
                "headers": dict(request.headers),
                "body": body,
                "received_at": datetime.now(UTC).isoformat(),
            }
        )
        fault = sandbox.next_fault()
        delay_ms = fault.delay_ms if fault else sandbox.delay_ms
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)  # plays a slow provider
        if fault is not None:
            return JSONResponse(_meta_error(fault.status), status_code=fault.status)
        if not request.headers.get("authorization", "").startswith("Bearer "):
            return JSONResponse(
                {"error": {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}},
                status_code=401,
            )
        if not isinstance(body, dict) or body.get("messaging_product") != "whatsapp" or "to" not in body:
            return JSONResponse(
                {"error": {"message": "(#100) Invalid parameter", "type": "OAuthException", "code": 100}},
                status_code=400,
            )
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                "messages": [{"id": sandbox.next_wamid()}],
            }
        )

    return app
