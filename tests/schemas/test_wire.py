from datetime import UTC, datetime
from uuid import uuid4

import orjson
import pytest
from pydantic import ValidationError

from schemas.assignment import AssignmentEvent, ReleaseEvent
from schemas.inbound import Attachment, DeliveryStatus, InboundMessage
from schemas.outbound import OutboundMessage
from schemas.wire import decode, decode_assignee_change, decode_inbound, encode

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def inbound() -> InboundMessage:
    return InboundMessage(
        event_id=uuid4(),
        channel="whatsapp",
        account_external_id="1",
        sender_external_id="2",
        provider_message_id="wamid.1",
        sent_at=NOW,
        received_at=NOW,
        content_type="image",
        text="caption",
        attachments=(Attachment(kind="image", provider_media_id="m1", mime_type="image/jpeg"),),
    )


def test_inbound_events_round_trip_through_the_wire_by_their_type():
    message = inbound()
    status = DeliveryStatus(
        event_id=uuid4(),
        channel="whatsapp",
        account_external_id="1",
        recipient_external_id="2",
        provider_message_id="wamid.9",
        status="read",
        occurred_at=NOW,
        received_at=NOW,
    )
    assert decode_inbound(encode(message)) == message
    assert decode_inbound(encode(status)) == status


def test_outbound_and_assignment_round_trip():
    outbound = OutboundMessage(
        message_id=uuid4(),
        conversation_id=uuid4(),
        channel="whatsapp",
        account_external_id="1",
        recipient_external_id="2",
        text="hi",
        author="agent",
        created_at=NOW,
        customer_last_message_at=NOW,
    )
    event = AssignmentEvent(
        conversation_id=uuid4(), agent_id=uuid4(), assigned_at=NOW, received_at=NOW, reason="from_queue"
    )
    assert decode(OutboundMessage, encode(outbound)) == outbound
    assert decode(AssignmentEvent, encode(event)) == event


def test_the_assignments_topic_carries_assignments_and_releases_told_apart_by_type():
    assigned = AssignmentEvent(
        conversation_id=uuid4(), agent_id=uuid4(), assigned_at=NOW, received_at=NOW, reason="transfer"
    )
    released = ReleaseEvent(conversation_id=uuid4(), agent_id=uuid4(), released_at=NOW, reason="heartbeat_timeout")
    assert decode_assignee_change(encode(assigned)) == assigned
    assert decode_assignee_change(encode(released)) == released
    with pytest.raises(ValidationError):
        decode_assignee_change(orjson.dumps({**orjson.loads(encode(released)), "reason": "bored"}))


def test_a_record_of_an_unknown_schema_version_or_shape_is_refused():
    wire = orjson.loads(encode(inbound()))
    with pytest.raises(ValidationError):
        decode_inbound(orjson.dumps({**wire, "schema_version": 2}))
    with pytest.raises(ValidationError):
        decode_inbound(orjson.dumps({**wire, "surprise": True}))
    with pytest.raises(ValidationError):
        decode_inbound(orjson.dumps({**wire, "type": "something_else"}))


def test_wire_models_are_frozen():
    with pytest.raises(ValidationError):
        inbound().text = "changed"  # type: ignore[misc]
