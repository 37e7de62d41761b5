"""Encoding of wire models as Kafka record values: orjson bytes of the model's JSON form."""

from typing import TypeVar

import orjson
from pydantic import BaseModel, TypeAdapter

from schemas.assignment import AssigneeChange
from schemas.inbound import InboundEvent

Model = TypeVar("Model", bound=BaseModel)

_inbound_events: TypeAdapter[InboundEvent] = TypeAdapter(InboundEvent)
_assignee_changes: TypeAdapter[AssigneeChange] = TypeAdapter(AssigneeChange)


def encode(model: BaseModel) -> bytes:
    """Serialise a wire model for Kafka."""
    return orjson.dumps(model.model_dump(mode="json"))


def decode(model_type: type[Model], raw: bytes) -> Model:
    """Parse and validate one record of a known type."""
    return model_type.model_validate_json(raw)


def decode_inbound(raw: bytes) -> InboundEvent:
    """Parse a record of the inbound topic, which carries messages and delivery statuses."""
    return _inbound_events.validate_json(raw)


def decode_assignee_change(raw: bytes) -> AssigneeChange:
    """Parse a record of the assignments topic, which carries assignments and releases."""
    return _assignee_changes.validate_json(raw)
