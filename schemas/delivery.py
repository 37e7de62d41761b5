"""The lifecycle of an outbound message's delivery status, which only ever moves forward.

    pending -> sending -> sent -> delivered -> read
       \\          \\-> unknown -/
        \\_________\\_________\\-> failed      (not after delivered: a delivered message stays delivered)

`unknown`: the provider was called and its answer was lost (a read timeout, a dispatcher that died
mid-send), so it may or may not have the message. It is never sent again by itself; a receipt that
names the message proves it went out and moves it on.
Receipts arrive out of order and more than once (a "read" before its "delivered"); applying only the
moves allowed here makes every order of arrival end in the same state.
"""

from typing import Literal

OutboundStatus = Literal["pending", "sending", "unknown", "sent", "delivered", "read", "failed"]

_PROGRESS: tuple[OutboundStatus, ...] = ("pending", "sending", "unknown", "sent", "delivered", "read")
_FAILABLE: tuple[OutboundStatus, ...] = ("pending", "sending", "unknown", "sent")


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
