"""The signature of Switchboard's webchat API, the same in both directions.

A site's backend signs what it posts to `/webhooks/webchat`, and the dispatcher signs each reply it posts
to the site's backend:

    X-Switchboard-Timestamp: <Unix seconds when signed>
    X-Switchboard-Signature: sha256=<hex HMAC-SHA256(key, "<timestamp>.<raw body>")>

The timestamp is signed with the body (as Stripe and Slack do), so neither can be changed alone, and a
receiver refuses a timestamp too far from its clock: a captured request cannot be replayed later.
"""

import hashlib
import hmac

SIGNATURE_HEADER = "x-switchboard-signature"
TIMESTAMP_HEADER = "x-switchboard-timestamp"


class InvalidSignature(ValueError):
    """A request that is not signed with the key, or not recently."""


def sign(key: bytes, timestamp: int, body: bytes) -> str:
    """The `X-Switchboard-Signature` value for this timestamp and body."""
    return "sha256=" + hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_headers(key: bytes, body: bytes, now: float) -> dict[str, str]:
    """The two headers that sign `body` now."""
    timestamp = int(now)
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: sign(key, timestamp, body)}


def verify_signature(key: bytes, headers: dict[str, str], body: bytes, *, now: float, tolerance_s: float) -> None:
    """Raise `InvalidSignature` unless `headers` (names lower-cased) sign `body` with `key`, recently."""
    if not key:
        raise InvalidSignature("no webchat signing key is configured for this site")
    received = headers.get(SIGNATURE_HEADER)
    timestamp = headers.get(TIMESTAMP_HEADER)
    if not received or not timestamp:
        raise InvalidSignature("missing X-Switchboard-Signature or X-Switchboard-Timestamp header")
    if not (timestamp.isascii() and timestamp.isdigit()):
        raise InvalidSignature(f"X-Switchboard-Timestamp is not Unix seconds: {timestamp!r}")
    if not hmac.compare_digest(received.encode(), sign(key, int(timestamp), body).encode()):
        raise InvalidSignature("X-Switchboard-Signature does not match the timestamp and body")
    if abs(now - int(timestamp)) > tolerance_s:
        raise InvalidSignature(
            f"X-Switchboard-Timestamp is {now - int(timestamp):.0f}s from our clock, beyond {tolerance_s:.0f}s"
        )
