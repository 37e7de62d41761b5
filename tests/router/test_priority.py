"""Priority from a contact's attributes and history."""

import pytest

from router.priority import NORMAL, RAISED, VIP, priority_of, tags_of


@pytest.mark.parametrize(
    ("attributes", "recent", "level", "reasons"),
    [
        ({}, 0, NORMAL, ()),
        ({"monthly_spend": 999.99}, 0, NORMAL, ()),
        ({"monthly_spend": 1000}, 0, VIP, ("vip",)),
        ({"monthly_spend": "2500.50"}, 0, VIP, ("vip",)),
        ({}, 2, NORMAL, ()),
        ({}, 3, RAISED, ("repeat",)),
        ({"monthly_spend": 5000}, 4, VIP, ("vip", "repeat")),
        ({"tags": ["priority"]}, 0, RAISED, ("priority_tag",)),
        ({"returns_90d": 1}, 0, NORMAL, ()),
        ({"returns_90d": 2}, 0, RAISED, ("priority_tag",)),  # 2+ returns in 90 days earn the priority tag
        ({"monthly_spend": "lots"}, 0, NORMAL, ()),
        ({"monthly_spend": True}, 0, NORMAL, ()),
    ],
)
def test_priority_levels_and_their_reasons(attributes, recent, level, reasons):
    priority = priority_of(attributes, recent)
    assert (priority.level, priority.reasons) == (level, reasons)


def test_two_returns_in_ninety_days_show_as_a_priority_tag():
    assert tags_of({"tags": ["wholesale"], "returns_90d": 3}) == ["wholesale", "priority"]
    assert tags_of({"returns_90d": 1}) == []
