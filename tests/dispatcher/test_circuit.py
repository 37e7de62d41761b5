from dispatcher.circuit import Circuit, Circuits, State


def circuit() -> Circuit:
    return Circuit(failure_threshold=3, open_s=10, max_open_s=40)


def test_it_opens_after_consecutive_failures_only():
    c = circuit()
    c.failed(0)
    c.failed(1)
    assert not c.succeeded(), "a success between failures resets the count; it ends no outage"
    c.failed(2)
    c.failed(3)
    assert c.allows(3.5)
    c.failed(4)
    assert c.state is State.OPEN
    assert not c.allows(5)
    assert c.blocked(13.9)
    assert c.retry_at(5) == 14


def test_after_the_open_period_one_probe_goes_and_its_success_closes_the_circuit():
    c = circuit()
    for t in range(3):
        c.failed(t)
    assert c.allows(12)  # the probe
    assert c.state is State.HALF_OPEN
    assert not c.allows(12.1), "one probe at a time"
    assert c.blocked(12.1)
    assert c.succeeded(), "the probe's success ends an outage: the replies it put off may go now"
    assert c.state in (State.CLOSED,)  # `in`: mypy keeps the narrowing from before succeeded()
    assert c.allows(12.2)


def test_a_failed_probe_opens_it_again_for_longer_up_to_the_maximum():
    c = circuit()
    for t in range(3):
        c.failed(t)
    opened = []
    now = 2.0
    for _ in range(4):
        now = c.closes_at
        assert c.allows(now)
        c.failed(now)
        opened.append(c.closes_at - now)
    assert opened == [20, 40, 40, 40]


def test_a_probe_that_never_reached_the_provider_lets_another_go():
    c = circuit()
    for t in range(3):
        c.failed(t)
    assert c.allows(20)
    c.abandoned()
    assert c.allows(20.1)


def test_each_channel_account_has_its_own_circuit():
    circuits = Circuits(failure_threshold=1, open_s=5, max_open_s=5)
    circuits.of("whatsapp", "1").failed(0)
    assert not circuits.of("whatsapp", "1").allows(1)
    assert circuits.of("whatsapp", "2").allows(1)
    assert circuits.of("telegram", "1").allows(1)
    assert circuits.open_count() == 1
