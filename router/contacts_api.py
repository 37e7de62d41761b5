"""The admin API for contacts under `/v1`: one person across channels, their attributes, links and merges.

- `GET /v1/contacts?channel=&external_id=` / `GET /v1/contacts/{id}`: identities, attributes, priority.
- `PUT /v1/contacts/{id}/attributes` `{...}`: set attributes (null removes one); they decide priority.
- `POST /v1/crm/contacts` `{channel, external_id, display_name?, attributes}`: CRM data for a customer
  known by a channel identity, creating the contact when Switchboard has not met them yet.
- `POST /v1/contacts/{id}/identities` `{channel, external_id}`: link an identity (409 if another contact has
  it: merge them instead).
- `POST /v1/contacts/{id}/merge` `{"from_contact_id"}`: fold another contact into this one.
"""

import math
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Body, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from router.api import Caller, State, require_admin
from router.errors import Conflict, NotFound
from router.identity import phone_of
from router.priority import priority_of, tags_of
from router.store import contacts as contact_store
from router.store.priorities import decide_contact_priority
from router.views import EXTERNAL_ID_MAX, LABEL_MAX, ExternalId, Label, Name, one_line
from services.postgres import Connection, in_transaction

# What a CRM may store on a contact: enough for any real record, too little to hurt the router.
ATTRIBUTES_MAX = 100
ATTRIBUTE_TEXT_MAX = 2000
ATTRIBUTE_LIST_MAX = 100
ATTRIBUTE_DEPTH_MAX = 4
# The attributes priority is computed from (router/priority.py): finite numbers, as numbers or numeric strings.
NUMERIC_ATTRIBUTES = ("monthly_spend", "returns_90d")
NUMERIC_ATTRIBUTE_MAX = Decimal(10) ** 15

routes = APIRouter(prefix="/v1")


class ContactDetail(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: UUID
    display_name: str | None
    identities: list[dict[str, str]]
    attributes: dict[str, Any]
    priority: int
    priority_reasons: list[str]
    tags: list[str]
    recent_conversations: int

    @classmethod
    def of(cls, row: asyncpg.Record) -> "ContactDetail":
        priority = priority_of(row["attributes"], int(row["recent_conversations"]))
        return cls(
            id=row["id"],
            display_name=row["display_name"],
            identities=row["identities"],
            attributes=row["attributes"],
            priority=priority.level,
            priority_reasons=list(priority.reasons),
            tags=tags_of(row["attributes"]),
            recent_conversations=row["recent_conversations"],
        )


def attributes_problem(attributes: dict[str, Any]) -> str | None:
    """Why these attributes cannot be stored, or None. Pure.

    NaN and infinities are refused everywhere (JSON cannot hold them, and a comparison with NaN raises), and
    the numeric attributes priority reads must be finite numbers in range, so one CRM push cannot break a
    contact for good."""
    if len(attributes) > ATTRIBUTES_MAX:
        return f"at most {ATTRIBUTES_MAX} attributes"
    for key, value in attributes.items():
        if not 1 <= len(key) <= LABEL_MAX:
            return f"attribute names are 1-{LABEL_MAX} characters"
        try:
            one_line(key)
        except ValueError as error:
            return f"attribute name {key!r}: {error}"
        if problem := _value_problem(value, 1):
            return f"attribute {key!r}: {problem}"
        if key in NUMERIC_ATTRIBUTES and value is not None and (problem := _numeric_problem(value)):
            return f"attribute {key!r}: {problem}"
    return None


def _value_problem(value: Any, depth: int) -> str | None:
    if depth > ATTRIBUTE_DEPTH_MAX:
        return f"nested deeper than {ATTRIBUTE_DEPTH_MAX} levels"
    if value is None or isinstance(value, bool | int):
        return None if not isinstance(value, int) or abs(value) < 2**63 else "integer out of range"
    if isinstance(value, float):
        return None if math.isfinite(value) else "NaN and infinities are not numbers JSON can hold"
    if isinstance(value, str):
        if len(value) > ATTRIBUTE_TEXT_MAX:
            return f"text longer than {ATTRIBUTE_TEXT_MAX} characters"
        return None if "\x00" not in value and _encodes(value) else "NUL and lone surrogates are not allowed"
    if isinstance(value, list):
        if len(value) > ATTRIBUTE_LIST_MAX:
            return f"lists hold at most {ATTRIBUTE_LIST_MAX} items"
        return next((p for v in value if (p := _value_problem(v, depth + 1))), None)
    if isinstance(value, dict):
        if len(value) > ATTRIBUTES_MAX:
            return f"objects hold at most {ATTRIBUTES_MAX} keys"
        return next(
            (p for k, v in value.items() if (p := _value_problem(k, depth + 1) or _value_problem(v, depth + 1))), None
        )
    return f"unsupported value of type {type(value).__name__}"


def _numeric_problem(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return "must be a number"
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return "must be a number"
    if not number.is_finite() or abs(number) >= NUMERIC_ATTRIBUTE_MAX:
        return f"must be a finite number below {NUMERIC_ATTRIBUTE_MAX:.0e}"
    return None


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _checked(attributes: dict[str, Any]) -> dict[str, Any]:
    if problem := attributes_problem(attributes):
        raise ValueError(problem)
    return attributes


Attributes = Annotated[dict[str, Any], AfterValidator(_checked)]


class Identity(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    channel: Label = Field(description="a channel, or 'phone' for a number in E.164")
    external_id: ExternalId


class CrmRecord(Identity):
    display_name: Name | None = None
    attributes: Attributes = {}


class MergeRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    from_contact_id: UUID


def _identities(identity: Identity) -> list[tuple[str, str]]:
    """The identity, and the number in E.164 beside it when the channel writes from a phone number."""
    phone = phone_of(identity.channel, identity.external_id)
    return [(identity.channel, identity.external_id)] + ([("phone", phone)] if phone else [])


@routes.get("/contacts")
async def find_contact(
    caller: Caller,
    state: State,
    channel: Annotated[str, Query(max_length=LABEL_MAX)],
    external_id: Annotated[str, Query(max_length=EXTERNAL_ID_MAX)],
) -> ContactDetail:
    require_admin(caller)
    async with state.pool.acquire() as conn:
        row = await contact_store.contact_by_identity(conn, channel, external_id)
    if row is None:
        raise NotFound(f"no contact with {channel} identity {external_id}")
    return ContactDetail.of(row)


@routes.get("/contacts/{contact_id}")
async def get_contact(contact_id: UUID, caller: Caller, state: State) -> ContactDetail:
    require_admin(caller)
    async with state.pool.acquire() as conn:
        row = await contact_store.get_contact(conn, contact_id)
    if row is None:
        raise NotFound(f"no contact {contact_id}")
    return ContactDetail.of(row)


@routes.put("/contacts/{contact_id}/attributes")
async def set_attributes(
    contact_id: UUID, caller: Caller, state: State, changes: Annotated[Attributes, Body()]
) -> ContactDetail:
    require_admin(caller)
    async with state.pool.acquire() as conn:
        if not await contact_store.update_attributes(conn, contact_id, changes):
            raise NotFound(f"no contact {contact_id}")
        await decide_contact_priority(conn, contact_id)
        row = await contact_store.get_contact(conn, contact_id)
    assert row is not None
    return ContactDetail.of(row)


@routes.post("/crm/contacts")
async def crm_record(record: CrmRecord, caller: Caller, state: State) -> ContactDetail:
    """Attributes for the customer known by this identity; the contact is created if unknown."""
    require_admin(caller)

    async def upsert(conn: Connection) -> UUID:
        identities = _identities(record)
        contact_id = None
        for channel, external_id in identities:
            contact_id = contact_id or await contact_store.owner_of(conn, channel, external_id)
        if contact_id is None:
            contact_id = await contact_store.create_contact(conn, record.display_name)
        await contact_store.add_identities(conn, contact_id, identities)
        await contact_store.update_attributes(conn, contact_id, record.attributes)
        await decide_contact_priority(conn, contact_id)
        return contact_id

    contact_id = await in_transaction(state.pool, upsert)
    async with state.pool.acquire() as conn:
        row = await contact_store.get_contact(conn, contact_id)
    assert row is not None
    return ContactDetail.of(row)


@routes.post("/contacts/{contact_id}/identities")
async def link_identity(contact_id: UUID, identity: Identity, caller: Caller, state: State) -> ContactDetail:
    require_admin(caller)

    async def link(conn: Connection) -> None:
        if await contact_store.get_contact(conn, contact_id) is None:
            raise NotFound(f"no contact {contact_id}")
        owner = await contact_store.owner_of(conn, identity.channel, identity.external_id)
        if owner is not None and owner != contact_id:
            raise Conflict(
                f"{identity.channel} {identity.external_id} belongs to contact {owner}; "
                f'merge it: POST /v1/contacts/{contact_id}/merge {{"from_contact_id": "{owner}"}}'
            )
        await contact_store.add_identities(conn, contact_id, _identities(identity))

    await in_transaction(state.pool, link)
    return await get_contact(contact_id, caller, state)


@routes.post("/contacts/{contact_id}/merge")
async def merge(contact_id: UUID, body: MergeRequest, caller: Caller, state: State) -> ContactDetail:
    require_admin(caller)
    if body.from_contact_id == contact_id:
        raise Conflict("a contact cannot be merged into itself")
    outcome = await in_transaction(
        state.pool, lambda conn: contact_store.merge_contacts(conn, contact_id, body.from_contact_id)
    )
    if outcome is None:
        raise NotFound("both contacts must exist and neither may be merged already")
    async with state.pool.acquire() as conn:
        await decide_contact_priority(conn, contact_id)
    if outcome.freed_agent_id is not None:
        await state.assigner.drain_queue()
    return await get_contact(contact_id, caller, state)
