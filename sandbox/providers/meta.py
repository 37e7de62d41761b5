"""Meta's Graph API send endpoint: `POST /{version}/{node_id}/messages`.

One path serves WhatsApp (a phone number id, `messaging_product: whatsapp`) and Messenger/Instagram (a
Page or Instagram account id, `recipient`), as on graph.facebook.com and graph.instagram.com.
Error bodies: developers.facebook.com/docs/graph-api/guides/error-handling.
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


def _invalid_parameter() -> JSONResponse:
    return JSONResponse(
        {"error": {"message": "(#100) Invalid parameter", "type": "OAuthException", "code": 100}}, status_code=400
    )


def routes(sandbox: Sandbox) -> APIRouter:
    router = APIRouter()

    @router.post("/{version}/{node_id}/messages")
    async def graph_send(version: str, node_id: str, request: Request) -> JSONResponse:
        body, fault = await sandbox.receive(request)
        if fault is not None:
            return JSONResponse(graph_error(fault.status), status_code=fault.status)
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
        recipient = body.get("recipient")
        if not isinstance(recipient, dict) or "id" not in recipient or "message" not in body:
            return _invalid_parameter()
        return JSONResponse({"recipient_id": recipient["id"], "message_id": sandbox.next_id("m_sandbox")})

    return router
