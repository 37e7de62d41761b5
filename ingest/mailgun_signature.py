"""Mailgun's webhook signature: `signature` = hex HMAC-SHA256(signing key, `timestamp` + `token`).

Route forwards carry the three values as form fields, event webhooks in their `signature` object
(documentation.mailgun.com/docs/mailgun/user-manual/webhooks/securing-webhooks). The signature covers
the timestamp and token but not the body, so a captured signature could vouch for a forged body: hence
the two checks Mailgun recommends beside the HMAC, a fresh timestamp and a token used once. The timestamp
is "the current time according to Mailgun" when it posts (Rails Action Mailbox, which allows 2 minutes of
drift: actionmailbox/app/controllers/action_mailbox/ingresses/mailgun/inbound_emails_controller.rb), so
each attempt, a retry included, is signed afresh and neither check refuses a genuine redelivery.
"""

import hashlib
import hmac
from collections import OrderedDict

from ingest.errors import SignatureError


def sign(signing_key: bytes, timestamp: str, token: str) -> str:
    """The `signature` Mailgun sends with this timestamp and token."""
    return hmac.new(signing_key, (timestamp + token).encode(), hashlib.sha256).hexdigest()


class TokenLedger:
    """The tokens of accepted signatures, each remembered until its timestamp is too old to be accepted.

    Per process: behind several ingest processes a replay may reach one that has not seen the token,
    which is why the freshness window is short. Bounded: past `max_tokens` the oldest are forgotten
    first (only under a flood far above Mailgun's own rate).
    """

    def __init__(self, max_age_s: float, max_tokens: int = 100_000) -> None:
        self._max_age_s = max_age_s
        self._max_tokens = max_tokens
        self._expiry: OrderedDict[str, float] = OrderedDict()

    def first_use(self, token: str, timestamp: float, now: float) -> bool:
        """Record `token`; False when it was already used within its freshness window."""
        while self._expiry and next(iter(self._expiry.values())) < now:
            self._expiry.popitem(last=False)
        if token in self._expiry:
            return False
        self._expiry[token] = timestamp + self._max_age_s
        if len(self._expiry) > self._max_tokens:
            self._expiry.popitem(last=False)
        return True


def verify_signature(
    signing_key: bytes,
    timestamp: str,
    token: str,
    signature: str,
    *,
    now: float,
    max_age_s: float,
    ledger: TokenLedger,
) -> None:
    """Raise `SignatureError` unless Mailgun signed this timestamp and token, recently and only once."""
    if not signing_key:
        raise SignatureError("no Mailgun signing key is configured, so no webhook can be verified")
    if not (timestamp and token and signature):
        raise SignatureError("missing Mailgun timestamp, token or signature")
    if not hmac.compare_digest(sign(signing_key, timestamp, token).encode(), signature.encode()):
        raise SignatureError("Mailgun signature does not match the timestamp and token")
    try:
        signed_at = float(timestamp)
    except ValueError as error:
        raise SignatureError(f"Mailgun timestamp is not Unix seconds: {timestamp!r}") from error
    if abs(now - signed_at) > max_age_s:
        raise SignatureError(
            f"Mailgun timestamp is {now - signed_at:.0f}s from our clock, beyond {max_age_s:.0f}s: "
            "a replay, or a clock that needs NTP"
        )
    if not ledger.first_use(token, signed_at, now):
        raise SignatureError("Mailgun token was already used: a replayed webhook")
