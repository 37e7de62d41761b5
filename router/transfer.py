"""Whether a conversation may move from its agent to another agent, or back to the queue.

Pure: the store locks the conversation, then the agents involved in id order (the global lock order),
asks here, and applies a yes with the queue's own conditional slot UPDATE, so the answer cannot go stale
between the question and the write, and the cap holds even if it did.
"""

from dataclasses import dataclass
from typing import Literal
from uuid import UUID

RefusalKind = Literal["not_yours", "not_assigned", "unknown_agent", "same_agent", "not_online", "at_cap"]


@dataclass(frozen=True)
class HeldConversation:
    """What the decision needs of the conversation: whether it is assigned, and to whom."""

    status: str
    assignee_id: UUID | None


@dataclass(frozen=True)
class AgentSlots:
    """What the decision needs of the receiving agent."""

    agent_id: UUID
    status: str
    pending: int
    max_pending: int


@dataclass(frozen=True)
class Refusal:
    """Why a transfer is refused: `kind` for the caller's status code, `detail` for the person."""

    kind: RefusalKind
    detail: str


def refuse_transfer(
    conversation: HeldConversation,
    acting_agent: UUID | None,
    to_agent_id: UUID | None,
    target: AgentSlots | None,
) -> Refusal | None:
    """None when the transfer may go ahead, else why not.

    `acting_agent` is the agent asking (None for an admin); `to_agent_id` None means back to the queue;
    `target` is that agent as read under lock (None if there is no such agent).
    """
    if acting_agent is not None and conversation.assignee_id != acting_agent:
        return Refusal("not_yours", "only the assignee or an admin may transfer this conversation")
    if conversation.status != "assigned" or conversation.assignee_id is None:
        return Refusal("not_assigned", f"the conversation is {conversation.status}: only an assigned one moves")
    if to_agent_id is None:
        return None
    if target is None:
        return Refusal("unknown_agent", f"no agent {to_agent_id}")
    if target.agent_id == conversation.assignee_id:
        return Refusal("same_agent", f"the conversation is already assigned to agent {target.agent_id}")
    if target.status != "online":
        return Refusal("not_online", f"agent {target.agent_id} is {target.status}: only an online agent takes one")
    if target.pending >= target.max_pending:
        return Refusal(
            "at_cap", f"agent {target.agent_id} is at their cap ({target.pending} of {target.max_pending} pending)"
        )
    return None
