"""Which open conversation goes on when two contacts are merged."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

from router.merging import MergePlan, OpenConversation, plan_merge

T = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def queued(waiting_since: datetime) -> OpenConversation:
    return OpenConversation(uuid4(), "queued", waiting_since, None)


def assigned(at: datetime) -> OpenConversation:
    return OpenConversation(uuid4(), "assigned", at - timedelta(seconds=5), at)


def test_nothing_open_means_nothing_to_do():
    assert plan_merge(None, None) == MergePlan(None, None)


def test_a_single_open_conversation_goes_on():
    only = queued(T)
    assert plan_merge(None, only) == MergePlan(only.conversation_id, None)
    assert plan_merge(only, None) == MergePlan(only.conversation_id, None)


def test_an_assigned_conversation_absorbs_a_waiting_one():
    waiting, held = queued(T - timedelta(minutes=5)), assigned(T)
    assert plan_merge(waiting, held) == MergePlan(held.conversation_id, waiting.conversation_id)


def test_of_two_assigned_the_one_assigned_first_goes_on():
    first, second = assigned(T - timedelta(minutes=1)), assigned(T)
    assert plan_merge(second, first) == MergePlan(first.conversation_id, second.conversation_id)


def test_of_two_waiting_the_one_waiting_longest_keeps_its_place():
    longer, shorter = queued(T - timedelta(minutes=2)), queued(T)
    assert plan_merge(shorter, longer) == MergePlan(longer.conversation_id, shorter.conversation_id)
