"""Agent tokens: the per-process cache of token -> agent, and how long a revoked token can outlive it."""

from uuid import UUID

from router.auth import TokenCache, bearer, hash_token

ANA, BO = UUID(int=1), UUID(int=2)


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_cached_token_expires_after_the_ttl_so_a_revocation_reaches_every_process():
    clock = Clock()
    cache = TokenCache(ttl_s=5, clock=clock)
    cache.put("h1", ANA)
    clock.now += 4.9
    assert cache.get("h1") == ANA
    clock.now += 0.1
    assert cache.get("h1") is None  # looked up again: a revoked token is refused from here on


def test_the_revoking_process_forgets_the_agents_tokens_at_once():
    cache = TokenCache(ttl_s=60, clock=Clock())
    cache.put("h1", ANA)
    cache.put("h2", BO)
    cache.forget_agent(ANA)
    assert (cache.get("h1"), cache.get("h2")) == (None, BO)


def test_a_ttl_of_zero_caches_nothing():
    cache = TokenCache(ttl_s=0, clock=Clock())
    cache.put("h1", ANA)
    assert cache.get("h1") is None


def test_the_cache_is_bounded():
    cache = TokenCache(ttl_s=60, clock=Clock(), max_entries=3)
    for n in range(10):
        cache.put(f"h{n}", UUID(int=n))
    assert sum(cache.get(f"h{n}") is not None for n in range(10)) <= 3


def test_bearer_tokens_and_their_hash():
    assert bearer("Bearer abc") == "abc"
    assert bearer("Basic abc") is None
    assert bearer(None) is None
    # SHA-256 of "abc", from FIPS 180-2's example.
    assert hash_token("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
