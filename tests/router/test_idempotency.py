"""What an Idempotency-Key may be, and what makes two replies the same request."""

import pytest

from router.idempotency import is_well_formed, request_digest


@pytest.mark.parametrize(
    "key",
    ["a", "8e03978e-40d5-43e8-bc93-6894a57f9324", "retry 2 of reply #7 ~!", "x" * 255],
)
def test_printable_ascii_keys_up_to_255_characters_are_accepted(key: str):
    assert is_well_formed(key)


@pytest.mark.parametrize(
    "key",
    ["", "x" * 256, "tab\there", "nul\x00", "del\x7f", "caf\u00e9", "emoji\U0001f600", "line\nbreak"],
)
def test_empty_overlong_and_non_printable_keys_are_refused(key: str):
    assert not is_well_formed(key)


def test_the_request_digest_is_sha256_of_the_canonical_body():
    # FIPS 180-2's example: SHA-256("abc").
    assert request_digest("abc").hex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_different_bodies_have_different_digests():
    assert request_digest('{"text":"a","resolve":false}') != request_digest('{"text":"a","resolve":true}')
