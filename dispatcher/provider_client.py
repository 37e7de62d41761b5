"""The HTTP client the dispatcher sends through: httpx's interface over aiohttp's transport.

What a failed call means for the reply depends on how far it got, and httpx-aiohttp blurs it: it maps
every aiohttp `ClientConnectionError` without a closer match to `httpx.ConnectTimeout`, a server that
dropped the connection after reading the request (`ServerDisconnectedError`) and a reset mid-answer
(`ClientOSError`) included. So `transport_failure` reads the aiohttp error it was raised from: only a
connection that was never made (`ClientConnectorError`: refused, DNS) or a connect/pool timeout
(`ConnectionTimeoutError`) is "nothing sent"; a read timeout, a dropped connection or a broken answer is
"outcome unknown". httpx's own transport raises ConnectError/ConnectTimeout/PoolTimeout before writing.
"""

from datetime import datetime
from typing import Any

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from dispatcher.errors import OutcomeUnknown, RetryableError
from dispatcher.retry_policy import parse_retry_after
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


def nothing_was_sent(error: httpx.TransportError) -> bool:
    """Whether the failed call certainly never wrote its request (so sending again cannot duplicate it)."""
    cause = error.__cause__
    if isinstance(cause, aiohttp.ClientError):
        return isinstance(cause, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError)
    return isinstance(error, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)


def transport_failure(
    error: httpx.TransportError, what: str, *, resend_safe: bool = False
) -> RetryableError | OutcomeUnknown:
    """The send error for a call that failed in transport: retryable if nothing was sent, else unknown."""
    if nothing_was_sent(error):
        return RetryableError(f"{what} unreachable: {error!r}", code="unreachable")
    return OutcomeUnknown(
        f"{what} did not answer after the request was sent: {error!r}", code="no_answer", resend_safe=resend_safe
    )


def retry_after_s(response: httpx.Response, now: datetime) -> float | None:
    """The wait a 429 or 503 asked for in `Retry-After` (seconds or an HTTP-date), if any."""
    if response.status_code not in (429, 503):
        return None
    return parse_retry_after(response.headers.get("retry-after"), now)


def with_provider_wait(error: Exception, response: httpx.Response, now: datetime) -> Exception:
    """`error`, carrying the response's Retry-After when it is a retryable one."""
    if isinstance(error, RetryableError):
        if error.retry_after_s is None:
            error.retry_after_s = retry_after_s(response, now)
        error.rate_limited = error.rate_limited or response.status_code == 429
    return error
