"""Dead letters under `/v1` (admin): what could not be processed or sent, and the call that tries it again.

- `GET /v1/dead-letters?kind=inbound|outbound&redriven=true|false&limit=`: newest first. Each item says why
  (`reason`, `detail`, `attempts`), what (`record`: the record's JSON, or null when it is not JSON) and, for a
  reply the dispatcher gave up on, which (`message_id`, `conversation_id`).
- `GET /v1/dead-letters/{id}`: one.
- `POST /v1/dead-letters/{id}/redrive`: 202 with the dead letter, now `redriven_at`: its record is published
  again (a reply goes back to `pending` and is sent by the dispatcher under its channel's rules; an inbound
  record is consumed again, and dead-lettered again if it still cannot be processed). 409 when it was already
  re-driven, or when its reply is no longer failed (sent meanwhile): nothing is sent twice.
"""

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

import asyncpg
import orjson
from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from router.api import Caller, State, require_admin
from router.errors import Conflict, NotFound
from router.store import dead_letters as dead_letter_store
from router.views import Items
from services.postgres import in_transaction

routes = APIRouter(prefix="/v1")


class DeadLetterView(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: UUID
    kind: Literal["inbound", "outbound"]
    reason: str
    detail: str
    attempts: int | None
    message_id: UUID | None
    conversation_id: UUID | None
    target_topic: str
    record: Any  # the record's JSON value; null when the bytes are not JSON (e.g. an undecodable record)
    record_bytes: int
    failed_at: datetime
    kept_at: datetime
    redriven_at: datetime | None

    @classmethod
    def of(cls, row: asyncpg.Record) -> "DeadLetterView":
        value: bytes = row["record_value"]
        fields = {k: v for k, v in dict(row).items() if k != "record_value"}
        return cls.model_validate({**fields, "record": _json_or_none(value), "record_bytes": len(value)})


def _json_or_none(value: bytes) -> Any:
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return None


@routes.get("/dead-letters")
async def list_dead_letters(
    caller: Caller,
    state: State,
    kind: Literal["inbound", "outbound"] | None = None,
    redriven: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Items[DeadLetterView]:
    require_admin(caller)
    async with state.pool.acquire() as conn:
        rows = await dead_letter_store.list_dead_letters(conn, kind, redriven, limit)
    return Items(items=[DeadLetterView.of(r) for r in rows])


@routes.get("/dead-letters/{dead_letter_id}")
async def get_dead_letter(dead_letter_id: UUID, caller: Caller, state: State) -> DeadLetterView:
    require_admin(caller)
    async with state.pool.acquire() as conn:
        row = await dead_letter_store.get_dead_letter(conn, dead_letter_id)
    if row is None:
        raise NotFound(f"no dead letter {dead_letter_id}")
    return DeadLetterView.of(row)


@routes.post("/dead-letters/{dead_letter_id}/redrive", status_code=202)
async def redrive(dead_letter_id: UUID, caller: Caller, state: State) -> DeadLetterView:
    require_admin(caller)
    outcome = await in_transaction(state.pool, lambda conn: dead_letter_store.redrive(conn, dead_letter_id))
    state.bell.ring()
    if outcome is None:
        raise NotFound(f"no dead letter {dead_letter_id}")
    if isinstance(outcome, dead_letter_store.RedriveRefused):
        if outcome.reason == "already_redriven":
            raise Conflict("this dead letter was already re-driven")
        raise Conflict("its reply is no longer failed (sent, or re-driven another way): nothing to send again")
    return DeadLetterView.of(outcome)
