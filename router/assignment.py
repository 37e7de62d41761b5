"""Who gets the next conversation: an online agent under their cap, fewest pending first, then the one
idle longest. Pure: the store reads the candidates and applies the choice with a conditional UPDATE
that re-checks the cap, so a stale read can lose a race but never exceed a cap.
"""

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal
from uuid import UUID

Presence = Literal["online", "away", "offline"]


@dataclass(frozen=True)
class AgentLoad:
    """What the decision needs to know of an agent."""

    agent_id: UUID
    status: Presence
    pending: int
    max_pending: int
    last_assigned_at: datetime | None
    online_since: datetime
    skills: frozenset[str] = frozenset()
    languages: frozenset[str] = frozenset()

    @property
    def has_capacity(self) -> bool:
        return self.status == "online" and self.pending < self.max_pending

    @property
    def idle_since(self) -> datetime:
        """Since when the agent has had nothing new: their last assignment, or coming online."""
        if self.last_assigned_at is None:
            return self.online_since
        return max(self.last_assigned_at, self.online_since)


def rank_agents(agents: list[AgentLoad]) -> list[AgentLoad]:
    """Agents who may take a conversation, best first; empty when nobody can."""
    eligible = [agent for agent in agents if agent.has_capacity]
    return sorted(eligible, key=lambda a: (a.pending, a.idle_since, str(a.agent_id)))


def after_assignment(agents: list[AgentLoad], agent_id: UUID, at: datetime) -> list[AgentLoad]:
    """The candidates re-ranked once `agent_id` took a conversation at `at`, without reading them again."""
    updated = [replace(a, pending=a.pending + 1, last_assigned_at=at) if a.agent_id == agent_id else a for a in agents]
    return rank_agents(updated)
