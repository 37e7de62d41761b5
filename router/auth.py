"""Bearer tokens: the admin token from settings, agent tokens issued once and stored as SHA-256 hashes.

Agent tokens are 256 random bits, so a fast hash is enough: there is nothing to brute-force.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from uuid import UUID


@dataclass(frozen=True)
class Principal:
    """Who is calling: the admin, or one agent."""

    is_admin: bool
    agent_id: UUID | None = None

    def may_act_as(self, agent_id: UUID) -> bool:
        return self.is_admin or self.agent_id == agent_id


def issue_token() -> str:
    """A new agent token, shown once at creation."""
    return "sbat_" + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def is_admin_token(presented: str, admin_token: str) -> bool:
    return hmac.compare_digest(presented.encode(), admin_token.encode())


def bearer(authorization: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None
