"""A shop's order API for the bot's order-status answers: `GET /commerce/orders/{id}`.

Plays a commerce backend (SWITCHBOARD_ORDERS_API_BASE points here locally). Deterministic, so tests know
the answer: an id ending in 0 is unknown (404); otherwise the status cycles with the id and the ETA is
two days after the order's status date. Lookups are not provider sends and are not recorded.
"""

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from sandbox.state import Sandbox

STATUSES = ("processing", "shipped", "out_for_delivery", "delivered")


def order(order_id: str, today: datetime) -> dict[str, str | None] | None:
    if not order_id.isdigit() or order_id.endswith("0"):
        return None
    status = STATUSES[int(order_id) % len(STATUSES)]
    eta = None if status == "delivered" else (today + timedelta(days=2)).date().isoformat()
    return {"id": order_id, "status": status, "eta": eta}


def routes(sandbox: Sandbox) -> APIRouter:
    router = APIRouter()

    @router.get("/commerce/orders/{order_id}")
    async def get_order(order_id: str) -> JSONResponse:
        fault = sandbox.next_fault(f"/commerce/orders/{order_id}")  # a scripted fault plays an unavailable shop too
        if fault is not None:
            return JSONResponse({"error": "unavailable"}, status_code=fault.status)
        found = order(order_id, datetime.now(UTC))
        if found is None:
            return JSONResponse({"error": "not_found", "detail": f"no order {order_id}"}, status_code=404)
        return JSONResponse(found)

    return router
