"""Bearer tokens: the admin token from settings, agent tokens issued once and stored as SHA-256 hashes.

Agent tokens are 256 random bits, so a fast hash is enough: there is nothing to brute-force. An admin can
replace an agent's token (the old one stops working) or revoke it.
"""

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
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


class TokenCache:
    """Which agent holds a token hash, remembered for `ttl_s` seconds so most calls skip the lookup.

    A revoked token keeps working on a process that cached it until its entry expires: `ttl_s` is the
    documented bound (SWITCHBOARD_TOKEN_CACHE_TTL_S). The process that revokes forgets it at once.
    """

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic, max_entries: int = 10_000) -> None:
        self._ttl_s = ttl_s
        self._clock = clock
        self._max_entries = max_entries
        self._entries: dict[str, tuple[UUID, float]] = {}

    def get(self, token_hash: str) -> UUID | None:
        """The cached agent for this token hash, if cached less than `ttl_s` ago."""
        entry = self._entries.get(token_hash)
        if entry is None:
            return None
        agent_id, expires_at = entry
        if self._clock() >= expires_at:
            del self._entries[token_hash]
            return None
        return agent_id

    def put(self, token_hash: str, agent_id: UUID) -> None:
        if self._ttl_s <= 0:
            return
        if len(self._entries) >= self._max_entries:
            self._entries.clear()  # unknown tokens are never cached, so only real agents fill it: rare
        self._entries[token_hash] = (agent_id, self._clock() + self._ttl_s)

    def forget_agent(self, agent_id: UUID) -> None:
        """Drop every cached token of this agent (its token was just replaced or revoked)."""
        for token_hash in [h for h, (a, _) in self._entries.items() if a == agent_id]:
            del self._entries[token_hash]
