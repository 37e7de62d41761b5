"""What Meta's webhooks (WhatsApp, Messenger, Instagram) share: the hub handshake and the signature.

Meta signs the raw body with the app secret: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256>`
(developers.facebook.com/docs/graph-api/webhooks/getting-started). There is no timestamp, so no replay
protection from Meta: a replay is harmless because the router stores each message id once.
"""

import hashlib
import hmac

from ingest.errors import SignatureError


def sign(app_secret: bytes, raw_body: bytes) -> str:
    """The `X-Hub-Signature-256` header value Meta sends for this body."""
    return "sha256=" + hmac.new(app_secret, raw_body, hashlib.sha256).hexdigest()


def verify_signature(app_secret: bytes, headers: dict[str, str], raw_body: bytes) -> None:
    """Raise `SignatureError` unless the body carries Meta's signature, compared in constant time."""
    if not app_secret:
        # Anyone can compute an HMAC with the empty key: without a secret no body can be Meta's.
        raise SignatureError("no Meta app secret is configured, so no webhook can be verified")
    received = headers.get("x-hub-signature-256")
    if not received:
        raise SignatureError("missing X-Hub-Signature-256 header")
    if not hmac.compare_digest(received.encode(), sign(app_secret, raw_body).encode()):
        raise SignatureError("X-Hub-Signature-256 does not match the body")


def answer_handshake(params: dict[str, str], verify_token: str) -> str | None:
    """The `hub.challenge` to echo when Meta's subscription handshake carries our verify token."""
    if not verify_token or params.get("hub.mode") != "subscribe":
        return None
    token = params.get("hub.verify_token", "")
    if not hmac.compare_digest(token.encode(), verify_token.encode()):
        return None
    return params.get("hub.challenge")
