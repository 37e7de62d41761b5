"""The in-process fan-out of assignment events to agents' open streams."""

import asyncio
from datetime import UTC, datetime
from uuid import UUID, uuid4

from router.live import SUBSCRIBER_BACKLOG, HeldConversations, LiveEvents
from schemas.assignment import AssignmentEvent, DeliveryUnknownEvent, ReleaseEvent


def assignment(agent_id: UUID, conversation_id: UUID | None = None) -> AssignmentEvent:
    now = datetime.now(UTC)
    return AssignmentEvent(
        conversation_id=conversation_id or uuid4(),
        agent_id=agent_id,
        assigned_at=now,
        received_at=now,
        reason="new_conversation",
    )


def release(agent_id: UUID, conversation_id: UUID) -> ReleaseEvent:
    return ReleaseEvent(
        conversation_id=conversation_id, agent_id=agent_id, released_at=datetime.now(UTC), reason="transfer"
    )


async def test_an_event_reaches_every_stream_of_its_agent_and_no_other():
    live = LiveEvents()
    ana, bo = uuid4(), uuid4()
    event = assignment(ana)
    with live.subscribe(ana) as first, live.subscribe(ana) as second, live.subscribe(bo) as other:
        live.publish(event)

        assert await first.next_event() == event
        assert await second.next_event() == event
        assert other._events.empty()


async def test_closing_a_stream_unsubscribes_it():
    live = LiveEvents()
    ana = uuid4()
    with live.subscribe(ana):
        assert live.open_streams == 1
    assert live.open_streams == 0
    live.publish(assignment(ana))  # nobody listening: dropped, no error


async def test_a_stream_that_falls_too_far_behind_ends_instead_of_growing():
    live = LiveEvents()
    ana = uuid4()
    with live.subscribe(ana) as stream:
        for _ in range(SUBSCRIBER_BACKLOG + 1):
            live.publish(assignment(ana))

        assert stream.overflowed
        assert await asyncio.wait_for(stream.next_event(), 1) is None


async def test_releases_reach_the_agents_streams_like_assignments():
    live = LiveEvents()
    ana = uuid4()
    event = release(ana, uuid4())
    with live.subscribe(ana) as stream:
        live.publish(event)
        assert await stream.next_event() == event


def test_an_assignment_already_in_the_snapshot_is_not_announced_again():
    ana, first, second = uuid4(), uuid4(), uuid4()
    shown = HeldConversations({first})
    assert not shown.passes(assignment(ana, first))
    assert shown.passes(assignment(ana, second))


def test_a_release_is_announced_only_for_a_conversation_the_stream_showed():
    ana, in_snapshot, assigned_later, never_shown = uuid4(), uuid4(), uuid4(), uuid4()
    shown = HeldConversations({in_snapshot})
    assert shown.passes(assignment(ana, assigned_later))

    assert shown.passes(release(ana, in_snapshot))
    assert shown.passes(release(ana, assigned_later))
    assert not shown.passes(release(ana, never_shown))  # released before the snapshot was read
    assert not shown.passes(release(ana, in_snapshot))  # once


def test_a_conversation_released_and_given_back_is_announced_both_times():
    ana, conversation = uuid4(), uuid4()
    shown = HeldConversations({conversation})
    assert shown.passes(release(ana, conversation))
    assert shown.passes(assignment(ana, conversation))
    assert shown.passes(release(ana, conversation))


def delivery_unknown(agent_id: UUID, conversation_id: UUID) -> DeliveryUnknownEvent:
    return DeliveryUnknownEvent(
        message_id=uuid4(),
        conversation_id=conversation_id,
        agent_id=agent_id,
        channel="whatsapp",
        detail="the provider did not answer within the send timeout",
        occurred_at=datetime.now(UTC),
    )


def test_an_unknown_delivery_is_told_only_about_a_conversation_the_screen_shows():
    ana, shown, transferred_away = uuid4(), uuid4(), uuid4()
    held = HeldConversations({shown, transferred_away})
    assert held.passes(release(ana, transferred_away))

    assert held.passes(delivery_unknown(ana, shown))
    assert not held.passes(delivery_unknown(ana, transferred_away))
    assert not held.passes(delivery_unknown(ana, uuid4()))
    assert held.passes(delivery_unknown(ana, shown)), "telling it changes nothing the screen holds"
