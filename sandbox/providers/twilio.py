"""Twilio's Messages API: `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`.

HTTP Basic with the AccountSid and a token, a form-encoded body, `201` with the Message resource (the
shape of twilio/twilio-python's Message tests), errors as `{"code", "message", "more_info", "status"}`
(twilio.com/docs/api/errors). The sandbox knows no tokens: it checks that the caller authenticates as the
account in the path, as Twilio's 20003 does for a wrong one.
"""

import base64
import binascii
import secrets
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from sandbox.state import Sandbox

MAX_BODY_CHARS = 1600
# The error a scripted fault answers with, by HTTP status.
_FAULTS: dict[int, tuple[int, str]] = {
    400: (21211, "The 'To' number is not a valid phone number."),
    401: (20003, "Authenticate"),
    404: (20404, "The requested resource was not found"),
    429: (20429, "Too Many Requests"),
    503: (20503, "Service Unavailable"),
}


def twilio_error(status: int, code: int | None = None, message: str | None = None) -> JSONResponse:
    """Twilio's error answer; without a code, the one its API gives for that HTTP status."""
    default_code, default_message = _FAULTS.get(status, (20500, "Internal Server Error"))
    code = code or default_code
    return JSONResponse(
        {
            "code": code,
            "message": message or default_message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status_code=status,
    )


def message_resource(account_sid: str, sid: str, form: dict[str, str], now: datetime) -> dict[str, Any]:
    """The Message resource Twilio answers a create with: queued, not yet sent."""
    created = format_datetime(now)
    uri = f"/2010-04-01/Accounts/{account_sid}/Messages/{sid}"
    return {
        "account_sid": account_sid,
        "api_version": "2010-04-01",
        "body": form.get("Body", ""),
        "date_created": created,
        "date_sent": None,
        "date_updated": created,
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "from": form.get("From"),
        "messaging_service_sid": form.get("MessagingServiceSid"),
        "num_media": "0",
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "sid": sid,
        "status": "queued",
        "subresource_uris": {"media": f"{uri}/Media.json"},
        "to": form["To"],
        "uri": f"{uri}.json",
    }


def routes(sandbox: Sandbox) -> APIRouter:
    router = APIRouter()

    @router.post("/2010-04-01/Accounts/{account_sid}/Messages.json")
    async def create_message(account_sid: str, request: Request) -> JSONResponse:
        body, fault = await sandbox.receive(request)
        if fault is not None:
            return twilio_error(fault.status)
        if _basic_user(request.headers.get("authorization", "")) != account_sid:
            return twilio_error(401)
        form: dict[str, str] = body if isinstance(body, dict) else {}
        if not form.get("To"):
            return twilio_error(400, 21604, "A 'To' phone number is required.")
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return twilio_error(400, 21603, "A 'From' phone number is required.")
        if not form.get("Body") and not form.get("MediaUrl") and not form.get("ContentSid"):
            return twilio_error(400, 21602, "Message body is required.")
        if len(form.get("Body", "").encode("utf-16-le")) // 2 > MAX_BODY_CHARS:
            return twilio_error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        sid = f"SM{secrets.token_hex(16)}"
        return JSONResponse(message_resource(account_sid, sid, form, datetime.now(UTC)), status_code=201)

    return router


def _basic_user(authorization: str) -> str | None:
    """The user of an HTTP Basic `Authorization` header that also carries a password, else None."""
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, colon, password = base64.b64decode(credentials, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return user if colon and password else None
