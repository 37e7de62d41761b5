import hashlib
import hmac

import pytest

from services.webchat_signature import InvalidSignature, sign, signature_headers, verify_signature


def test_the_signature_is_hex_hmac_sha256_of_timestamp_dot_body():
    expected = hmac.new(b"key", b'1763899200.{"a":1}', hashlib.sha256).hexdigest()
    assert sign(b"key", 1763899200, b'{"a":1}') == f"sha256={expected}"


def test_signed_headers_verify_within_the_tolerance_and_not_beyond():
    headers = signature_headers(b"key", b"{}", now=1763899200.7)
    assert headers["x-switchboard-timestamp"] == "1763899200"
    verify_signature(b"key", headers, b"{}", now=1763899200 + 300, tolerance_s=300)
    verify_signature(b"key", headers, b"{}", now=1763899200 - 300, tolerance_s=300)  # a sender's clock ahead
    with pytest.raises(InvalidSignature, match="clock"):
        verify_signature(b"key", headers, b"{}", now=1763899200 + 301, tolerance_s=300)


@pytest.mark.parametrize(
    ("key", "headers", "body", "why"),
    [
        (b"other", None, b"{}", "does not match"),
        (b"key", None, b"{ }", "does not match"),
        (b"key", {"x-switchboard-signature": "sha256=00"}, b"{}", "missing"),
        (b"key", {"x-switchboard-timestamp": "soon", "x-switchboard-signature": "sha256=00"}, b"{}", "Unix seconds"),
        (b"", None, b"{}", "no webchat signing key"),
    ],
    ids=["wrong-key", "changed-body", "no-timestamp", "bad-timestamp", "no-key"],
)
def test_anything_else_is_an_invalid_signature(key, headers, body, why):
    signed = signature_headers(b"key", b"{}", now=1763899200)
    with pytest.raises(InvalidSignature, match=why):
        verify_signature(key, headers if headers is not None else signed, body, now=1763899200, tolerance_s=300)
