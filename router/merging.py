"""Merging two contacts who turned out to be one person: which open conversation goes on. Pure.

A contact has at most one open conversation, so when both have one, one absorbs the other's messages
and the other is closed: an assigned conversation goes on before a waiting one (an agent is already on
it); of two assigned, the one assigned first; of two waiting, the one waiting longest (the customer keeps
their place in the queue).
"""

import math
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True)
class OpenConversation:
    conversation_id: UUID
    status: str  # bot, queued, assigned
    waiting_since: datetime
    assigned_at: datetime | None


@dataclass(frozen=True)
class MergePlan:
    keep: UUID | None  # the open conversation the merged contact goes on in
    close: UUID | None  # the one whose messages move into `keep`, then closed


def plan_merge(survivor: OpenConversation | None, merged: OpenConversation | None) -> MergePlan:
    if survivor is None or merged is None:
        only = survivor or merged
        return MergePlan(keep=only.conversation_id if only else None, close=None)
    keep, close = sorted((survivor, merged), key=_goes_on_first)
    return MergePlan(keep=keep.conversation_id, close=close.conversation_id)


def _goes_on_first(conversation: OpenConversation) -> tuple[int, float, float, str]:
    assigned_at = conversation.assigned_at if conversation.status == "assigned" else None
    return (
        0 if assigned_at else 1,
        assigned_at.timestamp() if assigned_at else math.inf,
        conversation.waiting_since.timestamp(),
        str(conversation.conversation_id),
    )
