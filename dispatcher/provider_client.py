"""The HTTP client the dispatcher sends through: httpx's interface over aiohttp's transport."""

from typing import Any

import httpx
from httpx_aiohttp import AiohttpTransport

from dispatcher.settings import DispatcherSettings


def make_provider_client(settings: DispatcherSettings) -> httpx.AsyncClient:
    """One pooled client for every provider API.

    httpx's own transport was about half of the dispatcher's CPU (py-spy); aiohttp's does the same work
    in C behind the httpx interface the channel modules and their tests use (2.8 -> 1.7 ms CPU per send).
    """
    return httpx.AsyncClient(
        timeout=settings.send_timeout_s,
        transport=AiohttpTransport(limits=httpx.Limits(max_connections=settings.max_concurrent_sends)),
    )


def json_or_empty(response: httpx.Response) -> dict[str, Any]:
    """A provider's JSON object answer, or {} when it sent something else (an HTML error page, nothing)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
