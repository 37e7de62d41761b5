"""Which of a batch's delivery receipts can be applied together, in one statement.

One statement updates a message at most once, so two receipts for the same message (a "delivered" and its
"read" often arrive in one Kafka batch) go to different rounds: round k holds the k-th receipt of each
message. Applying the rounds one after the other ends where applying the receipts one by one does, because
a status only moves forward, whatever the order of arrival (schemas/delivery.py).
"""

from collections.abc import Hashable, Sequence


def receipt_rounds(keys: Sequence[Hashable]) -> list[list[int]]:
    """The positions of `keys` (each receipt's message) in rounds: no key twice in a round, each key's
    receipts in their order of arrival across rounds."""
    rounds: list[list[int]] = []
    seen: dict[Hashable, int] = {}
    for position, key in enumerate(keys):
        round_ = seen.get(key, 0)
        seen[key] = round_ + 1
        if round_ == len(rounds):
            rounds.append([])
        rounds[round_].append(position)
    return rounds
