"""Correctly signed inbound webhooks as the providers send them, for tests, demos and load tests.

WhatsApp's are here; every other channel has its own module beside this one (sandbox/webhooks/<channel>.py).
"""

import time
from dataclasses import dataclass
from typing import Any

import orjson

from ingest.meta import sign


@dataclass(frozen=True)
class SignedWebhook:
    """A webhook body and the headers the provider would send with it."""

    body: bytes
    headers: dict[str, str]


def whatsapp_text(
    phone_number_id: str,
    wa_id: str,
    wamid: str,
    text: str,
    *,
    timestamp: int | None = None,
    name: str = "Test Customer",
) -> dict[str, Any]:
    """One WhatsApp Cloud API `messages` notification carrying one text message."""
    return whatsapp_envelope(
        phone_number_id,
        {
            "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
            "messages": [
                {
                    "from": wa_id,
                    "id": wamid,
                    "timestamp": str(timestamp or int(time.time())),
                    "type": "text",
                    "text": {"body": text},
                }
            ],
        },
    )


def whatsapp_status(
    phone_number_id: str, wa_id: str, wamid: str, status: str, *, timestamp: int | None = None
) -> dict[str, Any]:
    """One WhatsApp Cloud API `statuses` notification for a message we sent."""
    return whatsapp_envelope(
        phone_number_id,
        {
            "statuses": [
                {
                    "id": wamid,
                    "status": status,
                    "timestamp": str(timestamp or int(time.time())),
                    "recipient_id": wa_id,
                    "conversation": {"id": "c0ffee", "origin": {"type": "service"}},
                    "pricing": {"billable": True, "pricing_model": "CBP", "category": "service"},
                }
            ],
        },
    )


def whatsapp_envelope(phone_number_id: str, value: dict[str, Any]) -> dict[str, Any]:
    """Wrap a `value` in the WhatsApp Business Account envelope Meta posts."""
    return {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone_number_id},
                            **value,
                        },
                    }
                ],
            }
        ],
    }


def signed_meta(payload: dict[str, Any], app_secret: str) -> SignedWebhook:
    """Serialise and sign a Meta webhook with the app secret, as Meta does."""
    body = orjson.dumps(payload)
    return SignedWebhook(
        body=body,
        headers={"content-type": "application/json", "x-hub-signature-256": sign(app_secret.encode(), body)},
    )
