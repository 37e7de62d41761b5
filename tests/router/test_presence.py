"""Who is timed out for silence, and when an offline agent's conversations go back to the queue."""

from datetime import UTC, datetime, timedelta
from uuid import UUID

from router.presence import INTERRUPTED_RELEASE_AFTER, DatabaseSightings, Downtime, OfflineHold, PresencePolicy, Seen

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
POLICY = PresencePolicy.of_seconds(heartbeat_timeout_s=60, offline_grace_s=30)


def seen(n: int, seconds_ago: float) -> Seen:
    return Seen(UUID(int=n), NOW - timedelta(seconds=seconds_ago))


def hold(n: int, reason, seconds_ago: float) -> OfflineHold:
    return OfflineHold(UUID(int=n), reason, NOW - timedelta(seconds=seconds_ago))


def test_an_agent_silent_past_the_timeout_is_timed_out_and_one_heard_from_within_it_is_not():
    agents = [seen(1, 61), seen(2, 59), seen(3, 3600)]
    assert POLICY.timed_out(agents, NOW) == [UUID(int=1), UUID(int=3)]


def test_silent_exactly_as_long_as_the_timeout_is_not_yet_timed_out():
    assert POLICY.timed_out([seen(1, 60)], NOW) == []
    assert POLICY.silent_before(NOW) == NOW - timedelta(seconds=60)


def test_a_timeout_of_zero_turns_timeouts_off():
    policy = PresencePolicy.of_seconds(heartbeat_timeout_s=0, offline_grace_s=30)
    assert policy.heartbeat_timeout is None
    assert policy.silent_before(NOW) is None
    assert policy.timed_out([seen(1, 10**6)], NOW) == []


def test_a_timed_out_agent_keeps_their_conversations_for_the_grace_then_gives_them_back():
    inside = hold(1, "heartbeat_timeout", 29)
    over = hold(2, "heartbeat_timeout", 30)
    assert POLICY.releases_due([inside, over], NOW) == [over]
    assert POLICY.releases_due([inside], NOW + timedelta(seconds=1)) == [inside]


def test_a_logged_off_agent_still_holding_conversations_is_a_release_that_did_not_happen():
    # Logging off releases at once; the sweep only waits out the few milliseconds of the release itself.
    in_flight = hold(1, "logged_off", 1)
    interrupted = hold(2, "logged_off", INTERRUPTED_RELEASE_AFTER.total_seconds())
    before_reasons = hold(3, None, 10)
    assert POLICY.releases_due([in_flight, interrupted, before_reasons], NOW) == [interrupted, before_reasons]


def test_the_grace_applies_only_to_timeouts():
    assert POLICY.hold_for("heartbeat_timeout") == timedelta(seconds=30)
    assert POLICY.hold_for("logged_off") == INTERRUPTED_RELEASE_AFTER
    assert POLICY.hold_for(None) == INTERRUPTED_RELEASE_AFTER


def test_no_grace_releases_a_timed_out_agent_at_the_next_sweep():
    policy = PresencePolicy.of_seconds(heartbeat_timeout_s=60, offline_grace_s=0)
    just_now = hold(1, "heartbeat_timeout", 0)
    assert policy.releases_due([just_now], NOW) == [just_now]


def test_our_downtime_is_not_counted_as_the_agents_silence():
    # Heard from 90 s ago, then PostgreSQL was down for 80 s: 10 s of real silence.
    down = Downtime(NOW - timedelta(seconds=85), NOW - timedelta(seconds=5))
    assert POLICY.timed_out([seen(1, 90)], NOW, [down]) == []
    assert POLICY.timed_out([seen(1, 90)], NOW) == [UUID(int=1)]
    # Silent for long before the downtime too: still timed out.
    assert POLICY.timed_out([seen(2, 200)], NOW, [down]) == [UUID(int=2)]


def test_a_downtime_counts_only_where_it_overlaps_the_silence():
    down = Downtime(NOW - timedelta(seconds=100), NOW - timedelta(seconds=20))
    assert down.overlap(NOW - timedelta(seconds=50), NOW) == timedelta(seconds=30)
    assert down.overlap(NOW - timedelta(seconds=10), NOW) == timedelta(0)
    # 70 s silent, 50 of them ours: 20 s of silence.
    assert POLICY.timed_out([seen(1, 70)], NOW, [down]) == []


def test_the_sweep_records_a_downtime_after_a_missed_sighting_and_not_after_a_late_one():
    sightings = DatabaseSightings()
    keep = timedelta(seconds=60)
    assert sightings.saw(NOW, keep) == ()
    # Late but not failed (a loaded machine): heartbeats were recorded meanwhile, so no downtime.
    assert sightings.saw(NOW + timedelta(seconds=20), keep) == ()
    sightings.missed()
    after_outage = NOW + timedelta(seconds=60)
    assert sightings.saw(after_outage, keep) == (Downtime(NOW + timedelta(seconds=20), after_outage),)
    # Kept while it can matter (it ended less than a heartbeat timeout ago), then forgotten.
    assert sightings.saw(after_outage + timedelta(seconds=60), keep) == (
        Downtime(NOW + timedelta(seconds=20), after_outage),
    )
    assert sightings.saw(after_outage + timedelta(seconds=61), keep) == ()
