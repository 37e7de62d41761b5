"""A site's chat-widget backend, as webchat replies reach it: `POST /webchat/messages`.

It checks the signature as a site would (services/webchat_signature.py): with the site's key or the
channel-wide one when the sandbox was started with them (SWITCHBOARD_ACCOUNTS, SWITCHBOARD_WEBCHAT_SIGNING_KEY),
else only that both headers are there. It keeps what it delivered, once per `message_id`, and serves
it as the widget would fetch it: `GET /webchat/sites/{site_id}/visitors/{visitor_id}/messages`.
It honours `Idempotency-Key` as the protocol asks: a key is taken when its request arrives (so a retry
that overtakes a slow first answer is a repeat too), a repeat is answered as the first was and delivers
nothing, and a key whose request was refused may be used again.
Answers are the ones dispatcher/channels/webchat.py documents: 200 on delivery, `{"error", "detail"}` else.
"""

import os
import time
from collections import defaultdict, deque
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from sandbox.state import Fault, Sandbox
from services.settings import CommonSettings
from services.webchat_signature import SIGNATURE_HEADER, TIMESTAMP_HEADER, InvalidSignature, verify_signature

MESSAGES_KEPT_PER_VISITOR = 200
_FIELDS = ("site_id", "visitor_id", "message_id", "text", "sent_at")
_FAULTS = {429: "rate_limited", 500: "internal_error", 502: "bad_gateway", 503: "unavailable"}


def _error(status: int, error: str, detail: str) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status)


def _site_keys() -> tuple[dict[str, bytes], bytes]:
    keys = {
        a.external_id: a.webhook_secret.get_secret_value().encode()
        for a in CommonSettings().accounts
        if a.channel == "webchat" and a.webhook_secret.get_secret_value()
    }
    return keys, os.environ.get("SWITCHBOARD_WEBCHAT_SIGNING_KEY", "").encode()


def routes(sandbox: Sandbox) -> APIRouter:
    """The site backend's delivery endpoint and the widget's view of what it delivered."""
    router = APIRouter(prefix="/webchat")
    site_keys, default_key = _site_keys()
    delivered: defaultdict[tuple[str, str], deque[dict[str, Any]]] = defaultdict(
        lambda: deque(maxlen=MESSAGES_KEPT_PER_VISITOR)
    )

    keys: set[str] = set()

    @router.post("/messages")
    async def deliver(request: Request) -> JSONResponse:
        key = request.headers.get("idempotency-key")
        taken: dict[str, bool] = {}

        def take_key(body: Any, fault: Fault | None) -> None:
            if key is None or fault is not None:
                return
            taken["repeat" if key in keys else "mine"] = True
            keys.add(key)

        body, fault = await sandbox.receive(request, take_key)
        if fault is not None:
            return _error(fault.status, _FAULTS.get(fault.status, "error"), "sandbox fault")
        answer = await _deliver(request, body, bool(taken.get("repeat")))
        if answer.status_code >= 400 and taken.get("mine") and key is not None:
            keys.discard(key)
        return answer

    async def _deliver(request: Request, body: Any, repeat: bool) -> JSONResponse:
        headers = {k.lower(): v for k, v in request.headers.items()}
        if not (isinstance(body, dict) and all(isinstance(body.get(f), str) for f in _FIELDS)):
            return _error(400, "bad_payload", f"body must be a JSON object with string {', '.join(_FIELDS)}")
        key = site_keys.get(body["site_id"], default_key)
        try:
            if key:
                raw = await request.body()
                verify_signature(key, headers, raw, now=time.time(), tolerance_s=300)
            elif not (headers.get(SIGNATURE_HEADER) and headers.get(TIMESTAMP_HEADER)):
                raise InvalidSignature("missing X-Switchboard-Signature or X-Switchboard-Timestamp header")
        except InvalidSignature as error:
            return _error(401, "bad_signature", str(error))
        if repeat:
            request.state.record["replay"] = True
            return JSONResponse({"message_id": body["message_id"], "status": "delivered"})
        visitor = delivered[(body["site_id"], body["visitor_id"])]
        if all(m["message_id"] != body["message_id"] for m in visitor):
            visitor.append({f: body[f] for f in ("message_id", "text", "sent_at")})
        return JSONResponse({"message_id": body["message_id"], "status": "delivered"})

    @router.get("/sites/{site_id}/visitors/{visitor_id}/messages")
    async def visitor_messages(site_id: str, visitor_id: str) -> dict[str, list[dict[str, Any]]]:
        return {"items": list(delivered.get((site_id, visitor_id), ()))}

    return router
