"""The provider sandbox: plays the providers' send APIs at the paths the real ones use.

`SWITCHBOARD_<CHANNEL>_API_BASE` pointing here is the only difference from production. Tests read
what arrived (`GET /sandbox/requests`) and script failures (`POST /sandbox/faults`). It also writes as a
customer would on any channel (`POST /sandbox/webhooks/{channel}`, sandbox/customers.py).
"""

from typing import Any

import orjson
from fastapi import FastAPI, Response
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox import customers
from sandbox.providers import commerce, line, meta, smtp, telegram, twilio, webchat
from sandbox.state import Fault, Latency, Sandbox, accepted, fault_headers
from services.health import health_routes
from services.metrics import FASTAPI_TELEMETRY_OFF, metrics_routes


class RetryAfter:
    """A faulted answer carries the fault's `Retry-After`, whichever provider route answered it.

    Plain ASGI rather than `@app.middleware("http")`: Starlette's BaseHTTPMiddleware runs each request
    through a task group and memory streams, which cost the sandbox about 0.4 ms of CPU per provider call
    under `make loadtest` (py-spy), on a machine the stack under test shares.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_retry_after(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Request.state lives in scope["state"]: the route that played the fault set it there.
                fault = scope.get("state", {}).get("fault")
                if isinstance(fault, Fault):
                    headers = MutableHeaders(scope=message)
                    for name, value in fault_headers(fault).items():
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_retry_after)


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
    async def stats(marker: str | None = None) -> dict[str, int]:
        """How many sends arrived, and how many distinct ones: the difference is sends received twice
        (retries after a refusal included; `accepted_*` count only what the provider took).

        `marker`: count only sends whose body contains it (replies written to be unique, such as the load
        harness's agents' "(ref ...)"), since two automated replies may rightly say the same thing.
        """

        def marked(requests: list[dict[str, Any]]) -> list[bytes]:
            bodies = [orjson.dumps(r["body"], option=orjson.OPT_SORT_KEYS) for r in requests]
            return [b for b in bodies if marker is None or marker.encode() in b]

        every, taken = marked(sandbox.requests), marked(accepted(sandbox.requests))
        return {
            "requests": len(sandbox.requests),
            "marked_requests": len(every),
            "distinct_bodies": len(set(every)),
            # Sends the provider took (a refused call or a repeat of an accepted idempotency key delivers
            # nothing): accepted_marked - accepted_distinct is replies delivered twice.
            "accepted_marked": len(taken),
            "accepted_distinct": len(set(taken)),
        }

    @app.delete("/sandbox/requests", status_code=204)
    async def clear() -> Response:
        sandbox.requests.clear()
        return Response(status_code=204)

    @app.post("/sandbox/faults", status_code=204)
    async def add_fault(fault: Fault) -> Response:
        sandbox.add_fault(fault)
        return Response(status_code=204)

    @app.delete("/sandbox/faults", status_code=204)
    async def clear_faults() -> Response:
        sandbox.clear_faults()
        return Response(status_code=204)

    @app.put("/sandbox/latency", status_code=204)
    async def set_latency(latency: Latency) -> Response:
        sandbox.delay_ms = latency.delay_ms
        return Response(status_code=204)

    app.add_middleware(RetryAfter)

    app.include_router(customers.routes())

    # Provider routes last: the Graph API's catch-all path must not shadow /sandbox/*.
    app.include_router(commerce.routes(sandbox))
    for provider_routes in (meta.routes, twilio.routes, line.routes, telegram.routes, webchat.routes, smtp.routes):
        app.include_router(provider_routes(sandbox))

    return app
