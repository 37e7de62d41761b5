from loadtests.chaos_report import Outcome, render, verdict


def test_a_clean_scenario_passes_and_unknown_replies_are_counted_not_failed():
    outcome = Outcome("kill-dispatcher", "kill -9 dispatcher", accepted=500, recovery_s=2.5, unknown_replies=1)
    outcome.unknown_reply_ids = ["0b6c"]

    assert verdict(outcome) == []
    outcome.failures = verdict(outcome)
    table = render([outcome])
    assert "kill-dispatcher: PASS" in table
    assert "0b6c" in table


def test_every_zero_the_scenario_must_hold_fails_it_when_broken():
    broken = {
        "lost": 3,
        "stored_twice": 1,
        "sent_twice": 2,
        "stuck_replies": 1,
        "stuck_in_bot": 4,
        "cap_violations": 1,
    }
    for field, value in broken.items():
        outcome = Outcome("s", "f", recovery_s=1.0)
        setattr(outcome, field, value)
        assert len(verdict(outcome)) == 1, field


def test_a_500_fails_a_503_does_not_and_a_stack_that_never_recovered_fails():
    assert verdict(Outcome("s", "f", recovery_s=1.0, refused=40)) == []
    assert verdict(Outcome("s", "f", recovery_s=1.0, unexpected_5xx={"webhook 500": 2}))
    assert verdict(Outcome("s", "f", recovery_s=None)) == [
        "the stack did not recover (ready, lag drained) within the bound"
    ]
    dead = Outcome("s", "f", recovery_s=1.0, consumers_alive=False, consumers={"http://x": "/healthz 503"})
    assert "not alive" in verdict(dead)[0]


def test_the_table_has_one_row_per_scenario_and_says_why_one_failed():
    ok = Outcome("a", "f", accepted=10, recovery_s=1.0)
    bad = Outcome("b", "f", accepted=10, lost=2, recovery_s=None)
    bad.failures = verdict(bad)
    lines = render([ok, bad]).splitlines()

    assert lines[0].startswith("| scenario")
    assert [line.split("|")[1].strip() for line in lines[2:4]] == ["a", "b"]
    assert "never" in lines[3]
    assert any(line.startswith("b: FAIL: 2 accepted messages never stored") for line in lines)


def test_a_stack_that_refuses_webhooks_after_it_recovered_fails_beyond_the_requests_in_flight():
    in_flight = Outcome("s", "f", recovery_s=1.0, refused=300, refused_after_recovery=80, refusals_allowed=120)
    assert verdict(in_flight) == []
    wedged = Outcome("s", "f", recovery_s=1.0, refused=4022, refused_after_recovery=3000, refusals_allowed=120)
    assert verdict(wedged) == ["3000 webhooks refused (503) after the stack had recovered"]
    assert "503 after" in render([wedged]).splitlines()[0]
