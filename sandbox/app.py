"""The provider sandbox: plays the providers' send APIs at the paths the real ones use.

`SWITCHBOARD_<CHANNEL>_API_BASE` pointing here is the only difference from production. Tests read
what arrived (`GET /sandbox/requests`) and script failures (`POST /sandbox/faults`). It also writes as a
customer would on any channel (`POST /sandbox/webhooks/{channel}`, sandbox/customers.py).
"""

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import FastAPI, Request, Response

from sandbox import customers
from sandbox.providers import commerce, line, meta, smtp, telegram, twilio, webchat
from sandbox.state import Fault, Latency, Sandbox, accepted, fault_headers
from services.health import health_routes
from services.metrics import FASTAPI_TELEMETRY_OFF, metrics_routes


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

    @app.middleware("http")
    async def retry_after(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """A faulted answer carries the fault's `Retry-After`, whichever provider route answered it."""
        response = await call_next(request)
        fault = getattr(request.state, "fault", None)
        if isinstance(fault, Fault):
            response.headers.update(fault_headers(fault))
        return response

    app.include_router(customers.routes())

    # Provider routes last: the Graph API's catch-all path must not shadow /sandbox/*.
    app.include_router(commerce.routes(sandbox))
    for provider_routes in (meta.routes, twilio.routes, line.routes, telegram.routes, webchat.routes, smtp.routes):
        app.include_router(provider_routes(sandbox))

    return app
