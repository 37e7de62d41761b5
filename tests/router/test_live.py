"""The in-process fan-out of assignment events to agents' open streams."""

import asyncio
from datetime import UTC, datetime
from uuid import UUID, uuid4

from router.live import SUBSCRIBER_BACKLOG, LiveEvents
from schemas.assignment import AssignmentEvent


def assignment(agent_id: UUID) -> AssignmentEvent:
    now = datetime.now(UTC)
    return AssignmentEvent(
        conversation_id=uuid4(), agent_id=agent_id, assigned_at=now, received_at=now, reason="new_conversation"
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
