"""What the router API refuses before a handler runs: bodies over the limit, and NUL in the URL.

The cap is enforced before anything is read or authenticated: a declared `Content-Length` over the limit
is answered 413 at once, and a body streamed without one (chunked) is counted as it arrives and refused
as soon as it passes the limit, so no caller can make the router buffer more than the limit. A client that
declares a body and stops sending it is answered 408 after `body_read_timeout_s`, rather than holding its
connection (and a handler) for ever. A NUL in the path or query cannot be stored or compared by PostgreSQL,
so it is a 400 here rather than a database error later.
"""

import asyncio

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(HTTPException):
    """Raised from `receive` when a streamed body passes the limit. An HTTPException, so FastAPI's body
    parsing lets it through to the app's handler instead of calling it malformed JSON."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request bodies are limited to {limit} bytes")


class BodyTimedOut(HTTPException):
    """Raised from `receive` when the rest of a declared body does not arrive in time."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__(408, f"the request body did not arrive within {timeout_s:g} s")


class RequestLimits:
    """ASGI middleware: caps request bodies at `max_body_bytes`, bounds how long they may take to arrive, and
    refuses NUL in the path or query."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, body_read_timeout_s: float = 10.0) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_read_timeout_s = body_read_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if problem := _url_problem(scope):
            await _refuse(scope, receive, send, 400, "bad_request", problem)
            return
        declared = _content_length(scope)
        if declared is None:
            await _refuse(scope, receive, send, 400, "bad_request", "Content-Length is not a number")
            return
        if declared > self.max_body_bytes:
            await _refuse(
                scope,
                receive,
                send,
                413,
                "payload_too_large",
                f"request bodies are limited to {self.max_body_bytes} bytes",
            )
            return
        received = 0
        started = False
        body_done = False

        async def counted_receive() -> Message:
            nonlocal received, body_done
            if body_done:  # only the disconnect is left to wait for (a stream waits for it as long as it lasts)
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), self.body_read_timeout_s)
            except TimeoutError:
                raise BodyTimedOut(self.body_read_timeout_s) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise BodyTooLarge(self.max_body_bytes)
                body_done = not message.get("more_body", False)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except BodyTooLarge as error:  # read by code that does not go through the app's exception handlers
            if started:
                raise
            await _refuse(scope, receive, send, 413, "payload_too_large", str(error.detail))
        except BodyTimedOut as error:
            if started:
                raise
            await _refuse(scope, receive, send, 408, "body_timeout", str(error.detail))


def _content_length(scope: Scope) -> int | None:
    """The declared length (0 when none is declared), or None when it is not a number."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return 0


def _url_problem(scope: Scope) -> str | None:
    if "\x00" in scope["path"] or b"%00" in scope["query_string"].lower():
        return "NUL is not allowed in the path or query"
    return None


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, code: str, detail: str) -> None:
    await JSONResponse({"error": code, "detail": detail}, status_code=status)(scope, receive, send)
