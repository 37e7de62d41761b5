from datetime import UTC, datetime, timedelta
from uuid import UUID

from router.assignment import AgentLoad, after_assignment, rank_agents

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def agent(n: int, pending: int = 0, *, status="online", max_pending=5, last_assigned_min=None, online_min=0):
    return AgentLoad(
        agent_id=UUID(int=n),
        status=status,
        pending=pending,
        max_pending=max_pending,
        last_assigned_at=None if last_assigned_min is None else T0 + timedelta(minutes=last_assigned_min),
        online_since=T0 + timedelta(minutes=online_min),
    )


def ids(agents):
    return [a.agent_id.int for a in agents]


def test_fewest_pending_goes_first():
    assert ids(rank_agents([agent(1, 3), agent(2, 1), agent(3, 2)])) == [2, 3, 1]


def test_on_equal_pending_the_agent_idle_longest_goes_first():
    ranked = rank_agents(
        [
            agent(1, 2, last_assigned_min=30),
            agent(2, 2, last_assigned_min=10),
            agent(3, 2, last_assigned_min=20),
        ]
    )
    assert ids(ranked) == [2, 3, 1]


def test_an_agent_never_assigned_is_idle_since_coming_online():
    ranked = rank_agents([agent(1, 0, last_assigned_min=5), agent(2, 0, online_min=10), agent(3, 0, online_min=1)])
    assert ids(ranked) == [3, 1, 2]


def test_coming_back_online_restarts_the_idle_clock():
    # Assigned at 09:05, went away, came back at 09:40: idle since 09:40, after the agent assigned at 09:30.
    ranked = rank_agents([agent(1, 0, last_assigned_min=5, online_min=40), agent(2, 0, last_assigned_min=30)])
    assert ids(ranked) == [2, 1]


def test_agents_at_their_cap_away_or_offline_are_not_candidates():
    ranked = rank_agents(
        [
            agent(1, 5),
            agent(2, 2, max_pending=2),
            agent(3, 0, status="away"),
            agent(4, 0, status="offline"),
            agent(5, 4),
        ]
    )
    assert ids(ranked) == [5]


def test_nobody_free_means_no_candidate():
    assert rank_agents([agent(1, 5), agent(2, 0, status="away")]) == []
    assert rank_agents([]) == []


def test_the_cap_is_per_agent():
    assert ids(rank_agents([agent(1, 7, max_pending=8), agent(2, 1, max_pending=1)])) == [1]


def test_ties_are_broken_deterministically():
    assert ids(rank_agents([agent(2), agent(1)])) == [1, 2]


def test_after_an_assignment_the_agent_moves_back_and_leaves_at_the_cap():
    ranked = rank_agents([agent(1, 3), agent(2, 4), agent(3, 4, max_pending=5, last_assigned_min=1)])
    assert ids(ranked) == [1, 2, 3]  # agent 2 was never assigned: idle since coming online, before agent 3
    ranked = after_assignment(ranked, UUID(int=1), T0 + timedelta(minutes=2))
    assert ids(ranked) == [2, 3, 1]  # all at 4 now; agent 1 was assigned last, so is idle the shortest
    ranked = after_assignment(ranked, UUID(int=3), T0 + timedelta(minutes=3))
    assert ids(ranked) == [2, 1]  # agent 3 reached the cap
