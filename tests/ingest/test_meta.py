import hashlib
import hmac

import pytest

from ingest.errors import SignatureError
from ingest.meta import answer_handshake, sign, verify_signature

SECRET = b"app-secret"
BODY = b'{"object":"whatsapp_business_account","entry":[]}'


def test_signature_is_hmac_sha256_of_the_raw_body_in_hex():
    expected = hmac.new(SECRET, BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, BODY) == f"sha256={expected}"


def test_a_correct_signature_passes():
    verify_signature(SECRET, {"x-hub-signature-256": sign(SECRET, BODY)}, BODY)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-hub-signature-256": ""},
        {"x-hub-signature-256": sign(b"other-secret", BODY)},
        {"x-hub-signature-256": sign(SECRET, BODY + b" ")},
        {"x-hub-signature-256": sign(SECRET, BODY).removeprefix("sha256=")},
        {"x-hub-signature": "sha1=" + hmac.new(SECRET, BODY, hashlib.sha1).hexdigest()},
    ],
    ids=["missing", "empty", "wrong-secret", "other-body", "no-prefix", "sha1-only"],
)
def test_a_missing_or_wrong_signature_is_refused(headers):
    with pytest.raises(SignatureError):
        verify_signature(SECRET, headers, BODY)


def test_handshake_echoes_the_challenge_for_our_token():
    params = {"hub.mode": "subscribe", "hub.verify_token": "tok", "hub.challenge": "1158201444"}
    assert answer_handshake(params, "tok") == "1158201444"


@pytest.mark.parametrize(
    "params",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": "tok", "hub.challenge": "1"},
        {"hub.challenge": "1"},
    ],
)
def test_handshake_refuses_anything_else(params):
    assert answer_handshake(params, "tok") is None


def test_an_empty_app_secret_refuses_even_an_hmac_made_with_the_empty_key():
    empty_key_signature = "sha256=" + hmac.new(b"", BODY, hashlib.sha256).hexdigest()
    with pytest.raises(SignatureError, match="no Meta app secret"):
        verify_signature(b"", {"x-hub-signature-256": empty_key_signature}, BODY)


def test_an_empty_verify_token_answers_no_handshake():
    assert answer_handshake({"hub.mode": "subscribe", "hub.verify_token": "", "hub.challenge": "1"}, "") is None
