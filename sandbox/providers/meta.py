"""Meta's Graph API send endpoint: `POST /{version}/{node_id}/messages`.

One path serves WhatsApp (a phone number id, `messaging_product: whatsapp`) and Messenger/Instagram (a
Page or Instagram account id, `recipient`), as on graph.facebook.com and graph.instagram.com.
Error bodies: developers.facebook.com/docs/graph-api/guides/error-handling; Messenger's codes:
developers.facebook.com/documentation/business-messaging/messenger-platform/error-codes.
"""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from sandbox.state import Sandbox


def graph_error(status: int) -> dict[str, Any]:
    """The Graph API's error body for a scripted fault."""
    if status == 429:
        return {
            "error": {
                "message": "(#130429) Rate limit hit",
                "type": "OAuthException",
                "code": 130429,
                "fbtrace_id": "sandbox",
            }
        }
    return {
        "error": {"message": "An unknown error occurred", "type": "OAuthException", "code": 1, "fbtrace_id": "sandbox"}
    }


def messaging_error(status: int) -> dict[str, Any]:
    """The Send API's (Messenger, Instagram) error body for a scripted fault."""
    if status == 429:
        code, message = 613, "(#613) Calls to this api have exceeded the rate limit."
    elif status >= 500:
        code, message = 2, "An unexpected error has occurred. Please retry your request later."
    elif status in (401, 403):
        code, message = 190, "Invalid OAuth access token."
    else:
        code, message = 551, "(#551) This person isn't available right now."
    return {"error": {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "sandbox"}}


_MESSAGING_TYPES = ("RESPONSE", "UPDATE", "MESSAGE_TAG")
_TAGS = ("CONFIRMED_EVENT_UPDATE", "POST_PURCHASE_UPDATE", "ACCOUNT_UPDATE", "HUMAN_AGENT")


def _invalid_parameter(message: str = "(#100) Invalid parameter") -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": "OAuthException", "code": 100}}, status_code=400)


def _messaging_problem(body: dict[str, Any]) -> str | None:
    """Why the Send API would refuse this body with (#100), if it would."""
    recipient = body.get("recipient")
    if not isinstance(recipient, dict) or not recipient.get("id"):
        return "(#100) The parameter recipient is required"
    message = body.get("message")
    if not isinstance(message, dict) or not (message.get("text") or message.get("attachment")):
        return "(#100) Must send either message or sender action"
    kind = body.get("messaging_type")
    if kind is not None and kind not in _MESSAGING_TYPES:
        return f"(#100) Param messaging_type must be one of {list(_MESSAGING_TYPES)}"
    if kind == "MESSAGE_TAG" and body.get("tag") not in _TAGS:
        return "(#100) Tag is required for MESSAGE_TAG messaging type"
    return None


def routes(sandbox: Sandbox) -> APIRouter:
    router = APIRouter()

    @router.post("/{version}/{node_id}/messages")
    async def graph_send(version: str, node_id: str, request: Request) -> JSONResponse:
        body, fault = await sandbox.receive(request)
        messaging = isinstance(body, dict) and "recipient" in body and body.get("messaging_product") != "whatsapp"
        if fault is not None:
            error = messaging_error(fault.status) if messaging else graph_error(fault.status)
            return JSONResponse(error, status_code=fault.status)
        has_token = request.headers.get("authorization", "").startswith("Bearer ") or bool(
            request.query_params.get("access_token")
        )
        if not has_token:
            return JSONResponse(
                {"error": {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190}},
                status_code=401,
            )
        if not isinstance(body, dict):
            return _invalid_parameter()
        if body.get("messaging_product") == "whatsapp":
            if "to" not in body:
                return _invalid_parameter()
            return JSONResponse(
                {
                    "messaging_product": "whatsapp",
                    "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                    "messages": [{"id": sandbox.next_id("wamid.sandbox")}],
                }
            )
        problem = _messaging_problem(body)
        if problem is not None:
            return _invalid_parameter(problem)
        return JSONResponse({"recipient_id": body["recipient"]["id"], "message_id": sandbox.next_id("m_sandbox")})

    return router
