"""Queue order (priority with ageing) and who may take a conversation (skills, language, widening)."""

from collections.abc import Set
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

from router.assignment import AgentLoad
from router.queueing import QueuedConversation, RoutingPolicy, candidates, choose_agents, matches, queue_order

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
POLICY = RoutingPolicy(ageing_s_per_level=60, widen_after_s=30)


def waiting(seconds: float, priority: int = 0, skill: str | None = None, language: str | None = None):
    return QueuedConversation(uuid4(), priority, NOW - timedelta(seconds=seconds), skill, language)


def agent(skills: Set[str] = frozenset(), languages: Set[str] = frozenset(), pending: int = 0) -> AgentLoad:
    return AgentLoad(
        uuid4(), "online", pending, 5, None, NOW - timedelta(hours=1), frozenset(skills), frozenset(languages)
    )


def ids(items: list[QueuedConversation]) -> list[UUID]:
    return [c.conversation_id for c in items]


def test_higher_priority_goes_first_then_the_longest_waiting():
    old, vip, older = waiting(10), waiting(5, priority=2), waiting(20)
    assert ids(queue_order([old, vip, older], NOW, POLICY)) == ids([vip, older, old])


def test_ageing_lets_a_long_wait_overtake_a_fresh_vip():
    starving = waiting(3 * 60)  # three ageing periods: urgency 3
    fresh_vip = waiting(1, priority=2)
    assert ids(queue_order([fresh_vip, starving], NOW, POLICY)) == ids([starving, fresh_vip])


def test_a_conversation_goes_to_agents_with_its_skill_and_language():
    billing_ko, billing_en, sales_ko = agent({"billing"}, {"ko"}), agent({"billing"}, {"en"}), agent({"sales"}, {"ko"})
    conversation = waiting(1, skill="billing", language="ko")
    assert [matches(conversation, a) for a in (billing_ko, billing_en, sales_ko)] == [True, False, False]
    match = choose_agents(conversation, [billing_en, sales_ko, billing_ko], NOW, POLICY)
    assert match is not None
    assert (match.agents, match.widened) == ([billing_ko], False)


def test_an_agent_who_lists_no_languages_takes_any_and_an_undetected_language_matches_all():
    assert matches(waiting(1, language="ko"), agent())
    assert matches(waiting(1, language=None), agent(languages={"en"}))


def test_without_a_matching_agent_it_waits_until_the_widening_time_then_anyone_may_take_it():
    english = agent(languages={"en"})
    korean = waiting(10, language="ko")
    assert choose_agents(korean, [english], NOW, POLICY) is None
    widened = choose_agents(korean, [english], NOW + timedelta(seconds=20), POLICY)
    assert widened is not None
    assert (widened.agents, widened.widened) == ([english], True)


def test_nobody_free_means_nobody_even_after_widening():
    assert choose_agents(waiting(600, language="ko"), [], NOW, POLICY) is None


def test_matching_keeps_the_load_ranking_it_was_given():
    busy, idle = agent(pending=3), agent(pending=0)
    match = choose_agents(waiting(1), [idle, busy], NOW, POLICY)
    assert match is not None
    assert match.agents == [idle, busy]


def test_candidates_are_the_next_conversations_someone_free_may_take_in_queue_order():
    english = agent(languages={"en"})
    vip, korean, normal, later = waiting(5, priority=2), waiting(9, language="ko"), waiting(8), waiting(1)
    chosen = candidates([later, normal, korean, vip], [english], NOW, POLICY, limit=2)
    assert [(c.conversation_id, m.agents) for c, m in chosen] == [
        (vip.conversation_id, [english]),
        (normal.conversation_id, [english]),
    ]
