"""Handing conversations on, under `/v1`: transfers to another agent or the queue, and internal notes.

- `POST /v1/conversations/{id}/transfer` `{"to_agent_id": ...}` or `{"to": "queue"}`: the assignee or an
  admin; answers the conversation. 409 with the reason when the receiving agent is not online or is at
  their cap, or the conversation is not assigned; 404 for an unknown agent.
- `POST /v1/conversations/{id}/notes` `{"text"}`: the assignee or an admin; 201 with the note, which the
  history shows and nobody sends.
"""

from functools import partial
from uuid import UUID

from fastapi import APIRouter

from router.api import Caller, State, visible_conversation
from router.errors import ApiError, Conflict, Forbidden, NotFound
from router.store import notes as note_store
from router.store import transfers as transfer_store
from router.transfer import Refusal
from router.views import ConversationView, MessageView, NewNote, TransferRequest
from services.postgres import in_transaction

routes = APIRouter(prefix="/v1")


@routes.post("/conversations/{conversation_id}/transfer")
async def transfer(conversation_id: UUID, body: TransferRequest, caller: Caller, state: State) -> ConversationView:
    acting_agent = None if caller.is_admin else caller.agent_id
    outcome = await in_transaction(
        state.pool,
        partial(
            transfer_store.transfer,
            conversation_id=conversation_id,
            to_agent_id=body.to_agent_id,
            acting_agent=acting_agent,
        ),
    )
    if outcome is None:
        raise NotFound(f"no conversation {conversation_id}")
    if isinstance(outcome, Refusal):
        raise _refused(outcome)
    await state.assigner.announce_released(outcome.previous_agent_id, [conversation_id], "transfer", outcome.at)
    if outcome.new_agent_id is not None:
        await state.assigner.announce_transfer(
            conversation_id, outcome.new_agent_id, outcome.at, outcome.conversation["received_at"]
        )
    else:
        # Not straight back to the agent who handed it on, when anyone else has room.
        await state.assigner.drain(passing_over={outcome.previous_agent_id})
    return ConversationView.of(outcome.conversation)


def _refused(refusal: Refusal) -> ApiError:
    if refusal.kind == "not_yours":
        return Forbidden(refusal.detail)
    if refusal.kind == "unknown_agent":
        return NotFound(refusal.detail)
    return Conflict(refusal.detail)


@routes.post("/conversations/{conversation_id}/notes", status_code=201)
async def add_note(conversation_id: UUID, body: NewNote, caller: Caller, state: State) -> MessageView:
    async with state.pool.acquire() as conn:
        note = await note_store.add_note(
            conn, conversation_id, caller.agent_id, body.text, only_assignee=not caller.is_admin
        )
        if note is None:  # say why: unknown, someone else's, or no longer open
            await visible_conversation(conn, conversation_id, caller)
            raise Conflict("the conversation is not assigned to you")
    return MessageView.model_validate(dict(note))
