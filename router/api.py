"""The agent/admin HTTP API under `/v1`: agents, presence and heartbeats, conversations, replies, resolution."""

from collections.abc import AsyncIterator
from typing import Annotated
from uuid import UUID, uuid4

import asyncpg
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from sse_starlette import EventSourceResponse, ServerSentEvent

from router.assigner import Assigner
from router.auth import Principal, TokenCache, bearer, hash_token, is_admin_token, issue_token
from router.errors import Conflict, Forbidden, NotFound, Unauthenticated
from router.idempotency import (
    MAX_KEY_LENGTH,
    IdempotencyKeyReused,
    InvalidIdempotencyKey,
    is_well_formed,
    request_digest,
)
from router.live import HeldConversations, LiveEvents
from router.outbox import OutboxBell
from router.store import accounts as account_store
from router.store import agents as agent_store
from router.store import conversations as conversation_store
from router.store import quick_replies as quick_reply_store
from router.store import reply_keys
from router.store.conversations import PostedReply, ReplyKey
from router.views import (
    EXTERNAL_ID_MAX,
    LABEL_MAX,
    AcceptedReply,
    AccountView,
    AgentView,
    AssignedEvent,
    ContactView,
    ConversationDetail,
    ConversationStatus,
    ConversationView,
    CreatedAgent,
    Items,
    MessageView,
    NewAgent,
    NewReply,
    PresenceUpdate,
    ReleasedEvent,
)
from schemas.assignment import AssignmentEvent, DeliveryUnknownEvent
from services.kafka import Topics
from services.postgres import Connection, Pool, in_one_statement, in_transaction


class RouterState:
    """What the API's handlers share, built once in the app's lifespan."""

    def __init__(
        self,
        pool: Pool,
        producer: AIOKafkaProducer,
        assigner: Assigner,
        topics: Topics,
        admin_token: str,
        live: LiveEvents,
        bell: OutboxBell,
        token_cache_ttl_s: float = 5.0,
    ) -> None:
        self.pool = pool
        self.bell = bell  # rung after a transaction that wrote the outbox
        self.live = live
        self.producer = producer
        self.assigner = assigner
        self.topics = topics
        self.admin_token = admin_token
        # A token's agent is looked up once per TTL per process: a revoked token stops working everywhere
        # within `token_cache_ttl_s` (router/auth.py TokenCache).
        self.agents_by_token_hash = TokenCache(token_cache_ttl_s)


async def _state(request: Request) -> RouterState:  # async: FastAPI runs a sync dependency in a thread
    state: RouterState = request.app.state.router
    return state


State = Annotated[RouterState, Depends(_state)]


async def _principal(state: State, authorization: Annotated[str | None, Header()] = None) -> Principal:
    token = bearer(authorization)
    if token is None:
        raise Unauthenticated("send Authorization: Bearer <token>")
    if is_admin_token(token, state.admin_token):
        return Principal(is_admin=True)
    token_hash = hash_token(token)
    agent_id = state.agents_by_token_hash.get(token_hash)
    if agent_id is None:
        async with state.pool.acquire() as conn:
            agent_id = await agent_store.agent_by_token_hash(conn, token_hash)
        if agent_id is None:
            raise Unauthenticated("unknown or revoked token")
        state.agents_by_token_hash.put(token_hash, agent_id)
    return Principal(is_admin=False, agent_id=agent_id)


Caller = Annotated[Principal, Depends(_principal)]


def require_admin(caller: Principal) -> None:
    if not caller.is_admin:
        raise Forbidden("admin token required")


routes = APIRouter(prefix="/v1")


@routes.post("/agents", status_code=201)
async def create_agent(body: NewAgent, caller: Caller, state: State) -> CreatedAgent:
    require_admin(caller)
    token = issue_token()
    async with state.pool.acquire() as conn:
        row = await agent_store.create_agent(
            conn, body.name, hash_token(token), body.skills, body.languages, body.max_pending
        )
    return CreatedAgent(**AgentView.of(row).model_dump(), token=token)


@routes.get("/agents")
async def list_agents(caller: Caller, state: State) -> Items[AgentView]:
    require_admin(caller)
    async with state.pool.acquire() as conn:
        return Items(items=[AgentView.of(r) for r in await agent_store.list_agents(conn)])


@routes.post("/agents/{agent_id}/token")
async def replace_agent_token(agent_id: UUID, caller: Caller, state: State) -> CreatedAgent:
    """Admin: a new token for the agent, shown once; the old one stops working (on other router processes
    within SWITCHBOARD_TOKEN_CACHE_TTL_S)."""
    require_admin(caller)
    token = issue_token()
    async with state.pool.acquire() as conn:
        if not await agent_store.replace_token(conn, agent_id, hash_token(token)):
            raise NotFound(f"no agent {agent_id}")
        row = await agent_store.get_agent(conn, agent_id)
    state.agents_by_token_hash.forget_agent(agent_id)
    assert row is not None
    return CreatedAgent(**AgentView.of(row).model_dump(), token=token)


@routes.delete("/agents/{agent_id}/token", status_code=204)
async def revoke_agent_token(agent_id: UUID, caller: Caller, state: State) -> Response:
    """Admin: the agent's token stops working and no new one is issued until `POST .../token`."""
    require_admin(caller)
    async with state.pool.acquire() as conn:
        if not await agent_store.replace_token(conn, agent_id, None):
            raise NotFound(f"no agent {agent_id}")
    state.agents_by_token_hash.forget_agent(agent_id)
    return Response(status_code=204)


@routes.get("/accounts")
async def list_accounts(caller: Caller, state: State) -> Items[AccountView]:
    require_admin(caller)
    async with state.pool.acquire() as conn:
        rows = await account_store.list_accounts(conn)
    return Items(items=[AccountView.model_validate(dict(r)) for r in rows])


@routes.get("/agents/{agent_id}")
async def get_agent(agent_id: UUID, caller: Caller, state: State) -> AgentView:
    if not caller.may_act_as(agent_id):
        raise Forbidden("agents may only read themselves")
    async with state.pool.acquire() as conn:
        row = await agent_store.get_agent(conn, agent_id)
    if row is None:
        raise NotFound(f"no agent {agent_id}")
    return AgentView.of(row)


@routes.put("/agents/{agent_id}/presence")
async def set_presence(agent_id: UUID, body: PresenceUpdate, caller: Caller, state: State) -> AgentView:
    if not caller.may_act_as(agent_id):
        raise Forbidden("agents may only set their own presence")
    async with state.pool.acquire() as conn:
        agent = await agent_store.set_presence(conn, agent_id, body.status)
    if agent is None:
        raise NotFound(f"no agent {agent_id}")
    if body.status == "offline":
        change = await in_transaction(state.pool, lambda conn: agent_store.release_conversations(conn, agent_id))
        if change is not None:
            agent = change.agent
            if change.released:
                await state.assigner.announce_released(
                    agent_id, change.released, "logged_off", agent["status_changed_at"]
                )
                await state.assigner.drain_queue()
    elif body.status == "online" and await state.assigner.drain(only_agents={agent_id}):
        async with state.pool.acquire() as conn:
            agent = await agent_store.get_agent(conn, agent_id)
        assert agent is not None
    return AgentView.of(agent)


@routes.post("/agents/{agent_id}/heartbeat", status_code=204)
async def heartbeat(agent_id: UUID, caller: Caller, state: State) -> Response:
    """The agent's client is there. Silent past SWITCHBOARD_HEARTBEAT_TIMEOUT_S, the agent goes offline."""
    if not caller.may_act_as(agent_id):
        raise Forbidden("agents may only send their own heartbeat")
    async with state.pool.acquire() as conn:
        if not await agent_store.record_heartbeat(conn, agent_id):
            raise NotFound(f"no agent {agent_id}")
    return Response(status_code=204)


@routes.get("/agents/{agent_id}/conversations")
async def agent_conversations(agent_id: UUID, caller: Caller, state: State) -> Items[ConversationView]:
    if not caller.may_act_as(agent_id):
        raise Forbidden("agents may only list their own conversations")
    async with state.pool.acquire() as conn:
        rows = await conversation_store.agent_conversations(conn, agent_id)
    return Items(items=[ConversationView.of(r) for r in rows])


@routes.get("/agents/{agent_id}/events")
async def agent_events(agent_id: UUID, caller: Caller, state: State) -> EventSourceResponse:
    """Server-sent events for the agent's screen: first `conversations` (what they hold now), then one
    `assigned` event per conversation given to them and one `released` event per conversation taken from
    them (transferred, or released when they went offline), as each is committed, and `delivery_unknown` when
    a reply in one of their conversations may or may not have reached the customer."""
    if not caller.may_act_as(agent_id):
        raise Forbidden("agents may only follow their own events")
    # Read before the stream's 200 is sent: an unknown agent is a 404 and an outage a 503, not a broken stream.
    async with state.pool.acquire() as conn:
        if await agent_store.get_agent(conn, agent_id) is None:
            raise NotFound(f"no agent {agent_id}")
    return EventSourceResponse(_agent_event_stream(state, agent_id), ping=15)


async def _agent_event_stream(state: RouterState, agent_id: UUID) -> AsyncIterator[ServerSentEvent]:
    # Subscribe before reading the snapshot: an assignment committed in between is then in both, and
    # is sent once; the other order could miss it.
    with state.live.subscribe(agent_id) as subscription:
        async with state.pool.acquire() as conn:
            rows = await conversation_store.agent_conversations(conn, agent_id)
        held = Items[ConversationView](items=[ConversationView.of(r) for r in rows])
        shown = HeldConversations({view.id for view in held.items})
        yield ServerSentEvent(held.model_dump_json(), event="conversations")
        while (event := await subscription.next_event()) is not None:
            if not shown.passes(event):
                continue
            if isinstance(event, AssignmentEvent):
                assigned = AssignedEvent(
                    conversation_id=event.conversation_id,
                    agent_id=event.agent_id,
                    assigned_at=event.assigned_at,
                    reason=event.reason,
                )
                yield ServerSentEvent(assigned.model_dump_json(), event="assigned")
            elif isinstance(event, DeliveryUnknownEvent):
                yield ServerSentEvent(event.model_dump_json(exclude={"type"}), event="delivery_unknown")
            else:
                released = ReleasedEvent(
                    conversation_id=event.conversation_id,
                    agent_id=event.agent_id,
                    released_at=event.released_at,
                    reason=event.reason,
                )
                yield ServerSentEvent(released.model_dump_json(), event="released")


@routes.get("/conversations")
async def search_conversations(
    caller: Caller,
    state: State,
    status: ConversationStatus | None = None,
    channel: Annotated[str | None, Query(max_length=LABEL_MAX)] = None,
    external_id: Annotated[str | None, Query(max_length=EXTERNAL_ID_MAX)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Items[ConversationView]:
    require_admin(caller)
    async with state.pool.acquire() as conn:
        rows = await conversation_store.search_conversations(conn, status, channel, external_id, limit)
    return Items(items=[ConversationView.of(r) for r in rows])


@routes.get("/conversations/{conversation_id}")
async def get_conversation(conversation_id: UUID, caller: Caller, state: State) -> ConversationDetail:
    async with state.pool.acquire() as conn:
        conversation = await visible_conversation(conn, conversation_id, caller)
        contact = await conversation_store.contact_with_identities(conn, conversation["contact_id"])
        messages = await conversation_store.history(conn, conversation["contact_id"])
    assert contact is not None
    return ConversationDetail(
        **ConversationView.of(conversation).model_dump(),
        contact=ContactView.model_validate(dict(contact)),
        messages=[MessageView.model_validate(dict(m)) for m in messages],
    )


@routes.post("/conversations/{conversation_id}/messages", status_code=202)
async def reply(
    conversation_id: UUID,
    body: NewReply,
    caller: Caller,
    state: State,
    idempotency_key: Annotated[str | None, Header()] = None,
) -> AcceptedReply:
    """Store the assignee's reply and its outbound record (the outbox relay publishes it), and resolve when
    asked, in one statement. With an `Idempotency-Key`, a retry answers the first reply."""
    agent_id = caller.agent_id
    if agent_id is None:
        raise Forbidden("only the assigned agent replies")
    if idempotency_key is not None and not is_well_formed(idempotency_key):
        raise InvalidIdempotencyKey(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters")
    key = None if idempotency_key is None else ReplyKey(idempotency_key, request_digest(body.model_dump_json()))
    message_id = uuid4()

    async def store(conn: Connection) -> PostedReply | None:
        expansion = await quick_reply_store.expand_reply(conn, conversation_id, agent_id, body.text)
        return await conversation_store.post_reply(
            conn,
            conversation_id,
            agent_id,
            expansion.text,
            state.topics.outbound,
            message_id=message_id,
            key=key,
            resolve=body.resolve,
            quick_replies=expansion.used,
        )

    posted = await in_one_statement(state.pool, store)
    if posted is None:  # say why: the key answered before, or the conversation is unknown, someone else's, closed
        async with state.pool.acquire() as conn:
            kept = None if key is None else await reply_keys.kept_reply(conn, agent_id, key.key)
            if kept is None:
                await visible_conversation(conn, conversation_id, caller)
                raise Conflict("the conversation is not assigned to you")
        assert key is not None  # a reply is only kept under a key
        if (kept.conversation_id, kept.request_sha256) != (conversation_id, key.request_sha256):
            raise IdempotencyKeyReused(
                f"this Idempotency-Key answered another request (reply {kept.message_id}); use a new key"
            )
        return AcceptedReply(id=kept.message_id, resolved=kept.resolved)
    state.bell.ring()
    if posted.freed_agent is not None:
        await state.assigner.drain(freed=posted.freed_agent)
    return AcceptedReply(id=posted.outbound.message_id, resolved=posted.resolved)


@routes.post("/conversations/{conversation_id}/resolve")
async def resolve(conversation_id: UUID, caller: Caller, state: State) -> ConversationView:
    only_assignee = None if caller.is_admin else caller.agent_id
    async with state.pool.acquire() as conn:
        resolution = await conversation_store.resolve(conn, conversation_id, only_assignee)
        if resolution is None:  # say why: unknown, someone else's, or already resolved
            await visible_conversation(conn, conversation_id, caller)
            raise Conflict("the conversation is already resolved or no longer yours")
    if resolution.freed_agent is not None:
        await state.assigner.drain(freed=resolution.freed_agent)
    return ConversationView.of(resolution.conversation)


async def visible_conversation(conn: Connection, conversation_id: UUID, caller: Principal) -> asyncpg.Record:
    """The conversation if the caller may see it; 404 or 403 (with the reason) if not."""
    row = await conversation_store.get_conversation(conn, conversation_id)
    if row is None:
        raise NotFound(f"no conversation {conversation_id}")
    if not caller.is_admin and row["assignee_id"] != caller.agent_id:
        raise Forbidden("only the assignee or an admin may see this conversation")
    return row
