"""Twilio's signature, checked against twilio-python's own RequestValidator test vectors
(tests/unit/test_request_validator.py: token "12345", the same URL and parameters, the same signatures)."""

import pytest

from ingest.twilio_signature import is_valid, sign, url_variants

TOKEN = "12345"
URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
PARAMS = [
    ("CallSid", "CA1234567890ABCDE"),
    ("Digits", "1234"),
    ("From", "+14158675309"),
    ("To", "+18005551212"),
    ("Caller", "+14158675309"),
]
EXPECTED = "RSOYDt4T1cUTdK1PDd93/VVr8B8="


def test_the_signature_is_the_sdks_for_the_same_url_and_parameters():
    assert sign(TOKEN, URL, PARAMS) == EXPECTED
    assert sign(TOKEN, URL, reversed(PARAMS)) == EXPECTED  # parameter order on the wire does not matter
    assert is_valid(TOKEN, URL, PARAMS, EXPECTED)


@pytest.mark.parametrize(
    ("url", "signature"),
    [
        (URL.replace(".com", ".com:1234"), EXPECTED),  # https with a port: signed without it
        (URL.replace(".com", ".com:1234").replace("https", "http"), "Zmvh+3yNM1Phv2jhDCwEM3q5ebU="),
        (URL, "kvajT1Ptam85bY51eRf/AJRuM3w="),  # signed with :443 added
        (URL.replace("https", "http"), "0ZXoZLH/DfblKGATFgpif+LLRf4="),  # signed with :80 added
    ],
    ids=["removes-port-https", "keeps-port-http", "adds-443", "adds-80"],
)
def test_the_url_is_accepted_with_and_without_its_port_as_the_sdk_does(url, signature):
    assert is_valid(TOKEN, url, PARAMS, signature)


def test_anything_else_is_refused():
    assert not is_valid("54321", URL, PARAMS, EXPECTED)
    assert not is_valid(TOKEN, URL.replace("foo=1", "foo=2"), PARAMS, EXPECTED)
    assert not is_valid(TOKEN, URL, [*PARAMS, ("Body", "")], EXPECTED)  # an empty parameter is signed too
    assert not is_valid(TOKEN, URL, PARAMS, EXPECTED.lower())
    assert not is_valid(TOKEN, URL, PARAMS, "")


def test_a_repeated_parameters_values_are_signed_in_sorted_order():
    assert sign(TOKEN, URL, [("A", "2"), ("A", "1")]) == sign(TOKEN, URL, [("A", "1"), ("A", "2")])
    assert sign(TOKEN, URL, [("A", "1"), ("A", "2")]) == sign(TOKEN, URL + "A1A2", [])


def test_url_variants_are_without_and_with_the_port():
    assert url_variants("https://h.example/p?q=1") == ("https://h.example/p?q=1", "https://h.example:443/p?q=1")
    assert url_variants("http://127.0.0.1:8080/webhooks/twilio") == (
        "http://127.0.0.1/webhooks/twilio",
        "http://127.0.0.1:8080/webhooks/twilio",
    )
    assert url_variants("https://user:pw@h.example:8443/p") == (
        "https://user:pw@h.example/p",
        "https://user:pw@h.example:8443/p",
    )
