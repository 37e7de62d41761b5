import hashlib
import hmac

import pytest

from ingest.errors import SignatureError
from ingest.mailgun_signature import claim_token, verify_signature

KEY = b"test-mailgun-signing-key"
TIMESTAMP, TOKEN = "1770920772", "e0b5477167110d68991efc6b9f89f0a11066af27834600e123"
# Mailgun's scheme computed here independently: hex HMAC-SHA256(key, timestamp + token).
SIGNATURE = hmac.new(KEY, (TIMESTAMP + TOKEN).encode(), hashlib.sha256).hexdigest()


class Ledger:
    def __init__(self) -> None:
        self.seen: dict[str, float] = {}

    async def first_use(self, token: str, expires_at: float) -> bool:
        first = token not in self.seen
        self.seen.setdefault(token, expires_at)
        return first


def test_a_fresh_signature_gives_the_time_it_was_signed():
    assert verify_signature(KEY, TIMESTAMP, TOKEN, SIGNATURE, now=1770920772 + 5, max_age_s=300) == 1770920772.0


@pytest.mark.parametrize(
    ("key", "timestamp", "token", "signature", "why"),
    [
        (b"", TIMESTAMP, TOKEN, SIGNATURE, "no Mailgun signing key"),
        (KEY, "", TOKEN, SIGNATURE, "missing"),
        (KEY, TIMESTAMP, "", SIGNATURE, "missing"),
        (KEY, TIMESTAMP, TOKEN, "", "missing"),
        (KEY, TIMESTAMP, TOKEN, SIGNATURE.upper(), "does not match"),
        (KEY, TIMESTAMP, TOKEN, SIGNATURE[:-1], "does not match"),
        (KEY, TIMESTAMP, "x" * 257, SIGNATURE, "longer than"),
    ],
    ids=["no-key", "no-timestamp", "no-token", "no-signature", "upper-case", "truncated", "huge-token"],
)
def test_a_missing_or_wrong_signature_is_refused(key, timestamp, token, signature, why):
    with pytest.raises(SignatureError, match=why):
        verify_signature(key, timestamp, token, signature, now=1770920772, max_age_s=300)


def test_a_stale_or_future_timestamp_is_refused():
    for now in (1770920772 + 301, 1770920772 - 301):
        with pytest.raises(SignatureError, match="from our clock"):
            verify_signature(KEY, TIMESTAMP, TOKEN, SIGNATURE, now=now, max_age_s=300)


async def test_a_token_is_claimed_once_until_its_timestamp_is_stale():
    ledger = Ledger()
    await claim_token(ledger, TOKEN, 1770920772.0, 300)
    assert ledger.seen == {TOKEN: 1770920772.0 + 300}
    with pytest.raises(SignatureError, match="already used"):
        await claim_token(ledger, TOKEN, 1770920772.0, 300)
