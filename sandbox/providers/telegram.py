"""Telegram Bot API send endpoint: `POST /bot<token>/sendMessage`.

Answers as api.telegram.org does (core.telegram.org/bots/api#making-requests): `{"ok": true, "result":
Message}` with a message_id counted per chat, or `{"ok": false, "error_code", "description",
"parameters"?}`. Takes JSON or form bodies, like the real API. A scripted 429 carries
`parameters.retry_after` of 1 s, the shortest Telegram gives; 403 and 400 play the blocked-bot and
unknown-chat refusals.
"""

import itertools
import re
import time
from collections import defaultdict
from http import HTTPStatus
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from sandbox.state import Sandbox

_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
_DESCRIPTIONS = {
    400: "Bad Request: chat not found",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    429: "Too Many Requests: retry after 1",
}


def telegram_error(status: int, retry_after: int | None = None) -> dict[str, Any]:
    """The Bot API's error body for a scripted fault (`retry_after`: the fault's, else 1 s)."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": _DESCRIPTIONS.get(status, phrase)}
    if status == 429:
        wait = 1 if retry_after is None else retry_after
        body["parameters"] = {"retry_after": wait}
        body["description"] = f"Too Many Requests: retry after {wait}"
    return body


def routes(sandbox: Sandbox) -> APIRouter:
    router = APIRouter()
    next_message_id: defaultdict[str, itertools.count[int]] = defaultdict(lambda: itertools.count(1))

    @router.post("/bot{token}/sendMessage")
    async def send_message(token: str, request: Request) -> JSONResponse:
        body, fault = await sandbox.receive(request)
        if fault is not None:
            return JSONResponse(telegram_error(fault.status, fault.retry_after), status_code=fault.status)
        if not _TOKEN.match(token):
            return _error(404, "Not Found")  # what api.telegram.org answers for a malformed token
        if not isinstance(body, dict) or body.get("chat_id") in (None, ""):
            return _error(400, "Bad Request: chat_id is empty")
        text = body.get("text")
        if not isinstance(text, str) or not text.strip():
            return _error(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            return _error(400, "Bad Request: message is too long")
        chat = str(body["chat_id"])
        bot_id = int(token.split(":", 1)[0])
        return JSONResponse(
            {
                "ok": True,
                "result": {
                    "message_id": next(next_message_id[chat]),
                    "from": {"id": bot_id, "is_bot": True, "first_name": "Sandbox bot", "username": "sandbox_bot"},
                    "chat": {"id": int(chat) if chat.lstrip("-").isdigit() else chat, "type": "private"},
                    "date": int(time.time()),
                    "text": text,
                },
            }
        )

    return router


def _error(status: int, description: str) -> JSONResponse:
    return JSONResponse({"ok": False, "error_code": status, "description": description}, status_code=status)
