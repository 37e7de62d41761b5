"""Quick replies under `/v1`: shortcuts agents type in a reply (router/quick_replies.py has the rules).

- `POST /v1/quick-replies` `{shortcut, synonyms?, text}`: admin; 201 with the quick reply. 422 with the
  reason for a malformed name or an unknown placeholder; 409 naming the existing quick reply when a name
  duplicates or is confusable with one of its names.
- `GET /v1/quick-replies`: admin or any agent; every quick reply with `use_count` and `last_used_at`.
- `DELETE /v1/quick-replies/{id}`: admin; 204, or 404.
"""

from datetime import datetime
from functools import partial
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from router.api import Caller, State, require_admin
from router.errors import Conflict, NotFound
from router.quick_replies import Clash, names_problem, placeholder_problem
from router.store import quick_replies as quick_reply_store
from router.views import Items, Text
from services.postgres import in_transaction

routes = APIRouter(prefix="/v1")


class NewQuickReply(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    shortcut: str
    synonyms: list[str] = Field(default=[], max_length=20)
    # As long as a reply may be (router/views.py NewReply).
    text: Text

    @model_validator(mode="after")
    def _names(self) -> "NewQuickReply":
        if problem := names_problem(self.shortcut, self.synonyms):
            raise ValueError(problem)
        return self

    @field_validator("text")
    @classmethod
    def _placeholders(cls, text: str) -> str:
        if problem := placeholder_problem(text):
            raise ValueError(problem)
        return text


class QuickReplyView(BaseModel):
    model_config = ConfigDict(frozen=True)
    id: UUID
    shortcut: str
    synonyms: list[str]
    text: str
    created_at: datetime
    use_count: int
    last_used_at: datetime | None

    @classmethod
    def of(cls, row: asyncpg.Record) -> "QuickReplyView":
        return cls.model_validate(dict(row))


@routes.post("/quick-replies", status_code=201)
async def create_quick_reply(body: NewQuickReply, caller: Caller, state: State) -> QuickReplyView:
    require_admin(caller)
    created = await in_transaction(
        state.pool,
        partial(quick_reply_store.create_quick_reply, shortcut=body.shortcut, synonyms=body.synonyms, text=body.text),
    )
    if isinstance(created, Clash):
        raise Conflict(created.detail)
    return QuickReplyView.of(created)


@routes.get("/quick-replies")
async def list_quick_replies(caller: Caller, state: State) -> Items[QuickReplyView]:
    # Any agent may read them: they type them. The Caller dependency has already refused the unknown.
    async with state.pool.acquire() as conn:
        rows = await quick_reply_store.list_quick_replies(conn)
    return Items(items=[QuickReplyView.of(row) for row in rows])


@routes.delete("/quick-replies/{quick_reply_id}", status_code=204)
async def delete_quick_reply(quick_reply_id: UUID, caller: Caller, state: State) -> Response:
    require_admin(caller)
    async with state.pool.acquire() as conn:
        if not await quick_reply_store.delete_quick_reply(conn, quick_reply_id):
            raise NotFound(f"no quick reply {quick_reply_id}")
    return Response(status_code=204)
