"""Mailgun's webhook signature: `signature` = hex HMAC-SHA256(signing key, `timestamp` + `token`).

Route forwards carry the three values as form fields, event webhooks in their `signature` object
(documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks). The signature covers
the timestamp and token but not the body, so a captured signature could vouch for a forged body: hence
the two checks Mailgun recommends beside the HMAC, a fresh timestamp and a token used once. The timestamp
is "the current time according to Mailgun" when it posts (Rails Action Mailbox, which allows 2 minutes of
drift: actionmailbox/app/controllers/action_mailbox/ingresses/mailgun/inbound_emails_controller.rb), so
each attempt, a retry included, is signed afresh and neither check refuses a genuine redelivery.

The token check needs a ledger every ingest process shares (ingest/mailgun_ledger.py): a replay may
reach any of them.
"""

import hashlib
import hmac
from typing import Protocol

from ingest.errors import SignatureError

# Mailgun's tokens are 50 characters; a longer one is not Mailgun's and is not worth a ledger row.
MAX_TOKEN_CHARS = 256


class TokenLedger(Protocol):
    """The tokens of accepted signatures, each remembered until its timestamp is too old to be accepted."""

    async def first_use(self, token: str, expires_at: float) -> bool:
        """Record `token` until `expires_at`; False when it was already used and has not expired."""
        ...


def sign(signing_key: bytes, timestamp: str, token: str) -> str:
    """The `signature` Mailgun sends with this timestamp and token."""
    return hmac.new(signing_key, (timestamp + token).encode(), hashlib.sha256).hexdigest()


def verify_signature(
    signing_key: bytes, timestamp: str, token: str, signature: str, *, now: float, max_age_s: float
) -> float:
    """Unix time of Mailgun's signature of this timestamp and token, if recent; else `SignatureError`.

    The token is not yet claimed: `claim_token` does that once the webhook is otherwise acceptable.
    """
    if not signing_key:
        raise SignatureError("no Mailgun signing key is configured, so no webhook can be verified")
    if not (timestamp and token and signature):
        raise SignatureError("missing Mailgun timestamp, token or signature")
    if len(token) > MAX_TOKEN_CHARS:
        raise SignatureError(f"Mailgun token is longer than {MAX_TOKEN_CHARS} characters")
    if not hmac.compare_digest(sign(signing_key, timestamp, token).encode(), signature.encode()):
        raise SignatureError("Mailgun signature does not match the timestamp and token")
    # Whole seconds, as Mailgun signs them: "nan" or "1e400" would slip past a float comparison.
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise SignatureError(f"Mailgun timestamp is not Unix seconds: {timestamp[:40]!r}")
    signed_at = float(timestamp)
    if abs(now - signed_at) > max_age_s:
        raise SignatureError(
            f"Mailgun timestamp is {now - signed_at:.0f}s from our clock, beyond {max_age_s:.0f}s: "
            "a replay, or a clock that needs NTP"
        )
    return signed_at


async def claim_token(ledger: TokenLedger, token: str, signed_at: float, max_age_s: float) -> None:
    """Record a verified signature's token; `SignatureError` when it was already used (a replay)."""
    if not await ledger.first_use(token, signed_at + max_age_s):
        raise SignatureError("Mailgun token was already used: a replayed webhook")
