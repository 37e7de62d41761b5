from ingest.mailgun_signature import TokenLedger


def test_a_token_is_accepted_once_while_it_could_still_be_replayed():
    ledger = TokenLedger(max_age_s=300)
    assert ledger.first_use("t1", timestamp=1000, now=1000)
    assert not ledger.first_use("t1", timestamp=1000, now=1200)
    assert ledger.first_use("t2", timestamp=1100, now=1200)


def test_tokens_are_forgotten_once_their_timestamp_is_too_old_to_pass():
    ledger = TokenLedger(max_age_s=300)
    ledger.first_use("t1", timestamp=1000, now=1000)
    # At 1301 the timestamp 1000 is refused as stale anyway, so the ledger need not hold it.
    assert ledger.first_use("t1", timestamp=1000, now=1301)


def test_the_ledger_is_bounded_and_forgets_the_oldest_first():
    ledger = TokenLedger(max_age_s=300, max_tokens=2)
    for token in ("a", "b", "c"):
        assert ledger.first_use(token, timestamp=1000, now=1000)
    assert ledger.first_use("a", timestamp=1000, now=1000)  # evicted by "c"
    assert not ledger.first_use("c", timestamp=1000, now=1000)
