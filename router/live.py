"""Live assignment events for agents' screens: the assignments topic, fanned out to open event streams.

Every API process follows the whole assignments topic from its end (no consumer group: each process
needs every event, and a stream that missed events while disconnected starts again from a snapshot of
the agent's open conversations, not from a stored offset). An assignment or a release is committed
before its event is published, so an event never announces what the database does not show.
"""

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from uuid import UUID

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError

from schemas.assignment import AssigneeChange, AssignmentEvent, DeliveryUnknownEvent
from schemas.wire import decode_assignee_change

log = logging.getLogger(__name__)

# A stream this far behind belongs to a client that stopped reading; it is closed rather than let grow.
# The client reconnects and starts again from a snapshot.
SUBSCRIBER_BACKLOG = 1_000


class Subscription:
    """One open event stream's inbox. It is closed once it falls SUBSCRIBER_BACKLOG events behind."""

    def __init__(self, agent_id: UUID) -> None:
        self.agent_id = agent_id
        self.overflowed = False
        self._events: asyncio.Queue[AssigneeChange] = asyncio.Queue(SUBSCRIBER_BACKLOG)

    def offer(self, event: AssigneeChange) -> None:
        try:
            self._events.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True

    async def next_event(self) -> AssigneeChange | None:
        """The next event, or None once the stream overflowed and must end.

        A full inbox means its reader is busy elsewhere, not waiting here, so the flag is seen in time.
        """
        if self.overflowed:
            return None
        return await self._events.get()


class HeldConversations:
    """What one stream has shown its agent as theirs, deciding which events it passes on.

    The stream subscribes before it reads its snapshot, so an assignment committed in between is in both:
    its event is dropped once. A release is passed on only for a conversation the stream has shown, so a
    release committed before the snapshot (and absent from it) is not announced.
    """

    def __init__(self, snapshot: set[UUID]) -> None:
        self._held = set(snapshot)
        self._unannounced = set(snapshot)  # in the snapshot; their assignment event may still come

    def passes(self, event: AssigneeChange) -> bool:
        conversation_id = event.conversation_id
        if isinstance(event, DeliveryUnknownEvent):  # news about a conversation the screen shows, nothing more
            return conversation_id in self._held
        if isinstance(event, AssignmentEvent):
            if conversation_id in self._unannounced:
                self._unannounced.discard(conversation_id)
                return False
            self._held.add(conversation_id)
            return True
        self._unannounced.discard(conversation_id)
        if conversation_id not in self._held:
            return False
        self._held.discard(conversation_id)
        return True


class LiveEvents:
    """This process's open event streams, by agent."""

    def __init__(self) -> None:
        self._subscriptions: dict[UUID, set[Subscription]] = {}

    @contextlib.contextmanager
    def subscribe(self, agent_id: UUID) -> Iterator[Subscription]:
        subscription = Subscription(agent_id)
        self._subscriptions.setdefault(agent_id, set()).add(subscription)
        try:
            yield subscription
        finally:
            streams = self._subscriptions.get(agent_id, set())
            streams.discard(subscription)
            if not streams:
                self._subscriptions.pop(agent_id, None)

    def publish(self, event: AssigneeChange) -> None:
        for subscription in self._subscriptions.get(event.agent_id, ()):
            subscription.offer(event)

    @property
    def open_streams(self) -> int:
        return sum(len(streams) for streams in self._subscriptions.values())


def make_follower(bootstrap: str, *, client_id: str) -> AIOKafkaConsumer:
    """A group-less consumer that answers a fetch as soon as one event arrives (fetch_min_bytes=1)."""
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="latest",
        fetch_min_bytes=1,
        fetch_max_wait_ms=500,
    )


async def follow_assignments(consumer: AIOKafkaConsumer, topic: str, live: LiveEvents, stopping: asyncio.Event) -> None:
    """Deliver every assignment and release event published from now on to the matching open streams."""
    await consumer.start()
    try:
        # Without a group, subscribing assigns every partition; auto_offset_reset="latest" starts at the end.
        consumer.subscribe([topic])
        while not stopping.is_set():
            try:
                batches = await consumer.getmany(timeout_ms=500)
            except KafkaError:
                log.exception("reading assignment events failed; retrying")
                await asyncio.sleep(0.5)
                continue
            for records in batches.values():
                for record in records:
                    if record.value is None:
                        continue
                    try:
                        live.publish(decode_assignee_change(record.value))
                    except ValueError:
                        # e.g. a kind of event a newer router publishes during a rolling upgrade
                        log.exception("skipping an undecodable assignment event at offset %s", record.offset)
    finally:
        await consumer.stop()
