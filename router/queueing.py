"""Which queued conversation goes next, and to whom: priority with ageing, skills and language, widening.

- Order: the most urgent first, where urgency = priority level + minutes waited / `ageing_minutes_per_level`
  (a normal conversation that waited two ageing periods goes before a fresh VIP), then the longest waiting.
- Match: an agent matches when they have the conversation's required skill (if any) and speak its language
  (if detected and the agent lists languages; an agent who lists none takes any).
- Widen: when no matching agent has room and the conversation has waited `widen_after_s`, any free agent
  may take it, and the assignment records that it was widened.
Among the agents who may take it, the load ranking of router/assignment.py decides. Pure.
"""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from router.assignment import AgentLoad


@dataclass(frozen=True)
class RoutingPolicy:
    ageing_s_per_level: float = 60.0
    widen_after_s: float = 30.0


@dataclass(frozen=True)
class QueuedConversation:
    conversation_id: UUID
    priority: int
    waiting_since: datetime
    required_skill: str | None = None
    language: str | None = None


@dataclass(frozen=True)
class Match:
    """The agents who may take a conversation, best first, and whether matching was widened to get them."""

    agents: list[AgentLoad]
    widened: bool


def urgency(conversation: QueuedConversation, now: datetime, policy: RoutingPolicy) -> float:
    waited = max(0.0, (now - conversation.waiting_since).total_seconds())
    return conversation.priority + waited / policy.ageing_s_per_level


def queue_order(queue: list[QueuedConversation], now: datetime, policy: RoutingPolicy) -> list[QueuedConversation]:
    """The queue, next first."""
    return sorted(queue, key=lambda c: (-urgency(c, now, policy), c.waiting_since, str(c.conversation_id)))


def matches(conversation: QueuedConversation, agent: AgentLoad) -> bool:
    if conversation.required_skill is not None and conversation.required_skill not in agent.skills:
        return False
    return conversation.language is None or not agent.languages or conversation.language in agent.languages


def choose_agents(
    conversation: QueuedConversation, ranked: list[AgentLoad], now: datetime, policy: RoutingPolicy
) -> Match | None:
    """Who may take `conversation` among the free agents `ranked` (best first); None: it keeps waiting."""
    matching = [agent for agent in ranked if matches(conversation, agent)]
    if matching:
        return Match(matching, widened=False)
    waited = (now - conversation.waiting_since).total_seconds()
    if ranked and waited >= policy.widen_after_s:
        return Match(list(ranked), widened=True)
    return None


def candidates(
    queue: list[QueuedConversation], ranked: list[AgentLoad], now: datetime, policy: RoutingPolicy, limit: int
) -> list[tuple[QueuedConversation, Match]]:
    """The next conversations an agent could take now, in queue order, each with who may take it.

    The store gives the first of them still waiting to the first of its agents with a slot: concurrent
    drains take different ones instead of each failing on the same head of the queue.
    """
    chosen: list[tuple[QueuedConversation, Match]] = []
    for conversation in queue_order(queue, now, policy):
        match = choose_agents(conversation, ranked, now, policy)
        if match is not None:
            chosen.append((conversation, match))
            if len(chosen) == limit:
                break
    return chosen
