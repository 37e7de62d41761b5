"""Twilio's webhooks as Twilio posts them: form-encoded, signed over the URL they are posted to.

Twilio signs the URL, so a builder needs the exact URL the webhook will be posted to (query included).
Parameters follow twilio.com/docs/messaging/guides/webhook-request and the status callbacks of
twilio.com/docs/messaging/guides/outbound-message-status-in-status-callbacks.
"""

import secrets
from urllib.parse import urlencode

from ingest.twilio_signature import sign
from sandbox.webhooks import SignedWebhook

ACCOUNT_SID = "AC00000000000000000000000000000001"


def message_sid() -> str:
    """A fresh Message SID: `SM` and 32 hex digits."""
    return f"SM{secrets.token_hex(16)}"


def twilio_text(
    to: str,
    sender: str,
    sid: str,
    text: str,
    *,
    media: tuple[tuple[str, str], ...] = (),
    profile_name: str | None = None,
    account_sid: str = ACCOUNT_SID,
) -> dict[str, str]:
    """An incoming message to our number `to` from `sender` (`whatsapp:`-prefixed for WhatsApp).

    `media` holds (url, content type) pairs, as an MMS or a WhatsApp media message carries them.
    """
    params = {
        "ToCountry": "US",
        "ToState": "CA",
        "SmsMessageSid": sid,
        "NumMedia": str(len(media)),
        "ToCity": "",
        "FromZip": "",
        "SmsSid": sid,
        "FromState": "CA",
        "SmsStatus": "received",
        "FromCity": "SAN FRANCISCO",
        "Body": text,
        "FromCountry": "US",
        "To": to,
        "ToZip": "",
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": account_sid,
        "From": sender,
        "ApiVersion": "2010-04-01",
    }
    for n, (url, content_type) in enumerate(media):
        params[f"MediaUrl{n}"] = url
        params[f"MediaContentType{n}"] = content_type
    if sender.startswith("whatsapp:"):
        params["ProfileName"] = profile_name or "Test Customer"
        params["WaId"] = sender.removeprefix("whatsapp:+")
    return params


def twilio_status(
    sender: str, to: str, sid: str, status: str, *, error_code: str | None = None, account_sid: str = ACCOUNT_SID
) -> dict[str, str]:
    """A status callback for a message we sent from `sender` (our number) to `to` (the customer)."""
    params = {
        "SmsSid": sid,
        "SmsStatus": status,
        "MessageStatus": status,
        "To": to,
        "MessageSid": sid,
        "AccountSid": account_sid,
        "From": sender,
        "ApiVersion": "2010-04-01",
    }
    if error_code:
        params["ErrorCode"] = error_code
    return params


def signed_twilio(params: dict[str, str], url: str, auth_token: str) -> SignedWebhook:
    """Form-encode the parameters and sign them with the URL they will be posted to, as Twilio does."""
    return SignedWebhook(
        body=urlencode(params).encode(),
        headers={
            "content-type": "application/x-www-form-urlencoded",
            "x-twilio-signature": sign(auth_token, url, params.items()),
        },
    )
