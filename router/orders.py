"""The commerce/order endpoint the bot reads order status from: `GET {base}/orders/{id}` -> {status, eta}."""

import httpx

from router.bot import LookupFailed, Order


async def look_up(client: httpx.AsyncClient, base_url: str, order_id: str, timeout_s: float) -> Order | LookupFailed:
    """The order, or LookupFailed when the endpoint does not answer in time or does not know it."""
    try:
        response = await client.get(f"{base_url.rstrip('/')}/orders/{order_id}", timeout=timeout_s)
        if not response.is_success:
            return LookupFailed(order_id)
        body = response.json()
        return Order(order_id=order_id, status=str(body["status"]), eta=body.get("eta"))
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return LookupFailed(order_id)
