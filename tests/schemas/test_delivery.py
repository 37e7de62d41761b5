from itertools import permutations

import pytest

from schemas.delivery import furthest, moves_forward, statuses_before


@pytest.mark.parametrize(
    ("current", "new", "allowed"),
    [
        ("pending", "sending", True),
        ("sending", "sent", True),
        ("sent", "delivered", True),
        ("sent", "read", True),
        ("delivered", "read", True),
        ("read", "delivered", False),
        ("delivered", "sent", False),
        ("read", "read", False),
        ("sent", "failed", True),
        ("sending", "failed", True),
        ("delivered", "failed", False),
        ("failed", "delivered", False),
        ("failed", "sent", False),
        ("sending", "unknown", True),
        ("unknown", "sent", True),
        ("unknown", "delivered", True),
        ("unknown", "failed", True),
        ("sent", "unknown", False),
        ("pending", "unknown", True),
    ],
)
def test_status_only_moves_forward(current, new, allowed):
    assert moves_forward(current, new) is allowed


def test_statuses_before_lists_what_may_be_replaced():
    assert statuses_before("delivered") == ("pending", "sending", "unknown", "sent")
    assert statuses_before("failed") == ("pending", "sending", "unknown", "sent")
    assert statuses_before("pending") == ()


@pytest.mark.parametrize("receipts", [("sent", "delivered", "read"), ("sent", "failed"), ("delivered", "failed")])
def test_every_order_of_arrival_ends_in_the_same_status(receipts):
    endings = {furthest("sending", list(order)) for order in permutations(receipts)}
    assert len(endings) == 1


def test_furthest_prefers_progress_to_a_late_failure():
    assert furthest("sent", ["failed", "delivered"]) == "delivered"
    assert furthest("sent", ["failed"]) == "failed"
    assert furthest("sent", []) == "sent"
