"""LINE Messaging API send endpoints: `POST /v2/bot/message/reply` and `POST /v2/bot/message/push`.

Plays what a client must handle: a reply token works once (a second use is 400 "Invalid reply token"),
a push's `X-Line-Retry-Key` is executed once (a repeat is 409 with the first answer's `sentMessages` and
`x-line-accepted-request-id`, also while the first is still being answered: the key is taken on arrival,
and given back only when the first was refused), `X-Line-Retry-Key` on reply is refused, and text is limited to 5,000
UTF-16 code units and 5 messages (developers.line.biz/en/reference/messaging-api/#send-reply-message,
#send-push-message; developers.line.biz/en/docs/messaging-api/retrying-api-request).
Error bodies are `{"message", "details"?}`.
"""

import itertools
import secrets
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from sandbox.state import Fault, Sandbox

_FAULT_MESSAGES = {
    400: "The request body has 1 error(s)",
    401: "Authentication failed. Confirm that the access token in the authorization header is valid.",
    403: "Access to this API is not available for your account",
    429: "The API rate limit has been exceeded. Try again later.",
}


def line_error(status: int) -> dict[str, Any]:
    """LINE's error body for a scripted fault."""
    return {"message": _FAULT_MESSAGES.get(status, "An error occurred in the server")}


def routes(sandbox: Sandbox) -> APIRouter:
    router = APIRouter()
    spent_tokens: set[str] = set()
    accepted: dict[str, tuple[str, list[dict[str, str]]]] = {}  # retry key -> (request id, sentMessages)
    message_ids = itertools.count(10**17 + secrets.randbelow(10**17))

    def sent(messages: list[Any]) -> list[dict[str, str]]:
        return [{"id": str(next(message_ids)), "quoteToken": secrets.token_urlsafe(24)} for _ in messages]

    @router.post("/v2/bot/message/reply")
    async def reply(request: Request) -> JSONResponse:
        body, fault = await sandbox.receive(request)
        refused = _refusal(request, body, fault)
        if refused is not None:
            return refused
        if "x-line-retry-key" in request.headers:
            return _error(400, "X-Line-Retry-Key is not supported by this API")
        token = body.get("replyToken")
        if not isinstance(token, str) or not token:
            return _invalid("replyToken", "Must not be empty")
        if token in spent_tokens:
            return _error(400, "Invalid reply token")
        spent_tokens.add(token)
        return _accepted({"sentMessages": sent(body["messages"])}, str(uuid.uuid4()))

    @router.post("/v2/bot/message/push")
    async def push(request: Request) -> JSONResponse:
        key = request.headers.get("x-line-retry-key")
        taken: dict[str, bool] = {}

        def take_key(body: Any, fault: Fault | None) -> None:
            if key is None or fault is not None or not _is_uuid(key):
                return
            if key in accepted:
                taken["repeat"] = True
            elif isinstance(body, dict) and isinstance(body.get("messages"), list):
                accepted[key] = (str(uuid.uuid4()), sent(body["messages"]))
                taken["mine"] = True

        body, fault = await sandbox.receive(request, take_key)
        refused = _refusal(request, body, fault)
        if refused is None and key is not None and not _is_uuid(key):
            refused = _error(400, "The value for the 'X-Line-Retry-Key' header is invalid")
        if refused is None and (not isinstance(body.get("to"), str) or not body["to"]):
            refused = _invalid("to", "Must not be empty")
        if refused is not None:
            if taken.get("mine") and key is not None:
                del accepted[key]  # a refused request was not executed: its key may be used again
            return refused
        if taken.get("repeat") and key is not None:
            request.state.record["replay"] = True
            request_id, sent_messages = accepted[key]
            return JSONResponse(
                {"message": "The retry key is already accepted", "sentMessages": sent_messages},
                status_code=409,
                headers={"x-line-request-id": str(uuid.uuid4()), "x-line-accepted-request-id": request_id},
            )
        if key is not None:
            request_id, sent_messages = accepted[key]
        else:
            request_id, sent_messages = str(uuid.uuid4()), sent(body["messages"])
        return _accepted({"sentMessages": sent_messages}, request_id)

    return router


def _refusal(request: Request, body: Any, fault: Fault | None) -> JSONResponse | None:
    """The answer for a scripted fault, a missing token or a malformed message list; None if acceptable."""
    if fault is not None:
        return JSONResponse(line_error(fault.status), status_code=fault.status)
    if not request.headers.get("authorization", "").startswith("Bearer "):
        return _error(401, _FAULT_MESSAGES[401])
    if not isinstance(body, dict):
        return _error(400, "The request body could not be parsed as JSON")
    messages = body.get("messages")
    if not isinstance(messages, list) or not 1 <= len(messages) <= 5:
        return _invalid("messages", "Size must be between 1 and 5")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not message.get("type"):
            return _invalid(f"messages[{index}].type", "Must be one of the following values: [text, image, ...]")
        text = message.get("text")
        if message["type"] == "text" and (not isinstance(text, str) or not 1 <= _utf16_units(text) <= 5000):
            return _invalid(f"messages[{index}].text", "Length must be between 1 and 5000")
    return None


def _invalid(field: str, why: str) -> JSONResponse:
    return _error(400, "The request body has 1 error(s)", [{"message": why, "property": field}])


def _utf16_units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _error(status: int, message: str, details: list[dict[str, str]] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"message": message}
    if details:
        body["details"] = details
    return JSONResponse(body, status_code=status)


def _accepted(body: dict[str, Any], request_id: str) -> JSONResponse:
    return JSONResponse(body, headers={"x-line-request-id": request_id})


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
