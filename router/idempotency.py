"""Idempotency keys on an agent's reply: what a well-formed key is, what makes two requests the same one,
and the two ways the API refuses a key.

ApiError (router/errors.py)
├── InvalidIdempotencyKey  400  empty, over 255 characters, or not printable ASCII
└── IdempotencyKeyReused   422  the agent used this key for another conversation or another body
"""

import hashlib

from router.errors import ApiError

MAX_KEY_LENGTH = 255


class InvalidIdempotencyKey(ApiError):
    status = 400
    code = "invalid_idempotency_key"


class IdempotencyKeyReused(ApiError):
    status = 422
    code = "idempotency_key_reused"


def is_well_formed(key: str) -> bool:
    """1 to 255 printable ASCII characters (space to tilde), as the IETF idempotency-key draft's examples use."""
    return 0 < len(key) <= MAX_KEY_LENGTH and all(" " <= c <= "~" for c in key)


def request_digest(canonical_body: str) -> bytes:
    """What identifies a request under its key: the SHA-256 of its body as parsed and re-serialised, so
    whitespace or key order in the JSON the client sent does not make a retry look like another request."""
    return hashlib.sha256(canonical_body.encode()).digest()
