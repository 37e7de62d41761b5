"""The lifecycle of an outbound message's delivery status, which only ever moves forward.

    pending -> sending -> sent -> delivered -> read
       \\_________\\_________\\-> failed      (not after delivered: a delivered message stays delivered)

Receipts arrive out of order and more than once (a "read" before its "delivered"); applying only the
moves allowed here makes every order of arrival end in the same state.
"""

from typing import Literal

OutboundStatus = Literal["pending", "sending", "sent", "delivered", "read", "failed"]

_PROGRESS: tuple[OutboundStatus, ...] = ("pending", "sending", "sent", "delivered", "read")
_FAILABLE: tuple[OutboundStatus, ...] = ("pending", "sending", "sent")


def statuses_before(new: OutboundStatus) -> tuple[OutboundStatus, ...]:
    """The statuses a message may be in for `new` to replace it."""
    if new == "failed":
        return _FAILABLE
    return _PROGRESS[: _PROGRESS.index(new)]


def moves_forward(current: OutboundStatus, new: OutboundStatus) -> bool:
    """Whether `new` replaces `current`."""
    return current in statuses_before(new)


def furthest(current: OutboundStatus, candidates: list[OutboundStatus]) -> OutboundStatus:
    """The status `current` ends in after applying every candidate, whatever their order."""
    result = current
    for status in sorted(candidates, key=lambda s: s == "failed"):  # progress first, failure last
        if moves_forward(result, status):
            result = status
    return result
