"""The admin API for automation under `/v1`: intent rules and the kill switch.

- `GET /v1/automation` -> `{"enabled": bool, "accounts": {"<account>": bool}}`;
  `PUT /v1/automation` `{"enabled": false}` (every automated message, everywhere) or
  `{"enabled": false, "account": "<external id>"}` (one account). Every router applies it within a second.
- `PUT /v1/schedules/{account}` `{schedule, greeting?, away_template?, min_interval_s?}`: an account's business
  hours (router/business_hours.py's shape) and its greeting / away message ("{back}" is when the team is back);
  `GET /v1/schedules`, `DELETE /v1/schedules/{account}`.
- `GET /v1/intents`, `POST /v1/intents` `{intent, keywords?, patterns?, reply?, account?, position?}`,
  `DELETE /v1/intents/{id}`. While no rule is configured, the shipped defaults (router/intents.py) apply.
"""

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from router.api import Caller, State, require_admin
from router.business_hours import InvalidSchedule, Schedule
from router.errors import InvalidRequest, NotFound
from router.intents import pattern_problem
from router.store import automation as automation_store
from router.templates import REPLY_PLACEHOLDERS, template_problem
from router.views import EXTERNAL_ID_MAX, LIST_MAX, ExternalId, Label, Text

# An account's external id in a path: as bounded as in a body.
AccountPath = Annotated[str, Path(min_length=1, max_length=EXTERNAL_ID_MAX)]
POSITION_MAX = 10_000
MIN_INTERVAL_MAX_S = 366 * 24 * 3600

routes = APIRouter(prefix="/v1")


class SwitchUpdate(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    enabled: bool
    account: ExternalId | None = None


class AutomationView(BaseModel):
    enabled: bool
    accounts: dict[str, bool]


class NewIntentRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    intent: str = Field(pattern=r"^[a-z0-9_]{2,40}$")
    keywords: list[Label] = Field(default=[], max_length=LIST_MAX)
    patterns: list[Text] = Field(default=[], max_length=LIST_MAX)
    reply: Text | None = None
    account: ExternalId | None = None
    position: int = Field(default=0, ge=-POSITION_MAX, le=POSITION_MAX)

    @field_validator("patterns")
    @classmethod
    def _linear_time(cls, patterns: list[str]) -> list[str]:
        # Patterns run on every message: only what RE2 matches in linear time is accepted (router/intents.py).
        for pattern in patterns:
            if problem := pattern_problem(pattern):
                raise ValueError(problem)
        return patterns

    @field_validator("reply")
    @classmethod
    def _renders(cls, reply: str | None) -> str | None:
        if reply is not None and (problem := template_problem(reply, REPLY_PLACEHOLDERS)):
            raise ValueError(problem)
        return reply


class IntentRuleView(NewIntentRule):
    id: UUID


@routes.get("/automation")
async def automation_status(caller: Caller, state: State) -> AutomationView:
    require_admin(caller)
    async with state.pool.acquire() as conn:
        switches = await automation_store.switches(conn)
    return AutomationView(
        enabled=switches.get("global", True), accounts={k: v for k, v in switches.items() if k != "global"}
    )


@routes.put("/automation")
async def switch_automation(update: SwitchUpdate, caller: Caller, state: State) -> AutomationView:
    require_admin(caller)
    async with state.pool.acquire() as conn:
        await automation_store.set_switch(conn, update.account or "global", update.enabled)
    return await automation_status(caller, state)


@routes.get("/intents")
async def list_intents(caller: Caller, state: State) -> dict[str, list[IntentRuleView]]:
    require_admin(caller)
    async with state.pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT id, intent, keywords, patterns, reply, account_external_id AS account, position
                 FROM intent_rules ORDER BY account_external_id NULLS LAST, position, created_at"""
        )
    return {"items": [IntentRuleView.model_validate(dict(r)) for r in rows]}


@routes.post("/intents", status_code=201)
async def create_intent(rule: NewIntentRule, caller: Caller, state: State) -> IntentRuleView:
    require_admin(caller)
    async with state.pool.acquire() as conn:
        rule_id = await conn.fetchval(
            """INSERT INTO intent_rules (account_external_id, intent, keywords, patterns, reply, position)
               VALUES ($1, $2, $3, $4, $5, $6) RETURNING id""",
            rule.account,
            rule.intent,
            rule.keywords,
            rule.patterns,
            rule.reply,
            rule.position,
        )
    return IntentRuleView(id=rule_id, **rule.model_dump())


@routes.delete("/intents/{rule_id}", status_code=204)
async def delete_intent(rule_id: UUID, caller: Caller, state: State) -> Response:
    require_admin(caller)
    async with state.pool.acquire() as conn:
        deleted = await conn.fetchval("DELETE FROM intent_rules WHERE id = $1 RETURNING id", rule_id)
    if deleted is None:
        raise NotFound(f"no intent rule {rule_id}")
    return Response(status_code=204)


class ScheduleUpdate(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    schedule: dict[str, Any]
    # Both are filled by plain substitution of "{back}" (router/away.py), never str.format: no placeholder
    # can reach anything, so they need no template check, only bounds.
    greeting: Text | None = None
    away_template: Text | None = None
    min_interval_s: int = Field(default=4 * 3600, ge=0, le=MIN_INTERVAL_MAX_S)


@routes.put("/schedules/{account}")
async def set_schedule(account: AccountPath, update: ScheduleUpdate, caller: Caller, state: State) -> dict[str, Any]:
    require_admin(caller)
    try:
        schedule = Schedule.from_dict(update.schedule)
    except InvalidSchedule as error:
        raise InvalidRequest(str(error)) from error
    async with state.pool.acquire() as conn:
        await automation_store.set_schedule(
            conn, account, schedule, update.greeting, update.away_template, update.min_interval_s
        )
    return {"account": account, **update.model_dump(), "schedule": schedule.to_dict()}


@routes.get("/schedules")
async def list_schedules(caller: Caller, state: State) -> dict[str, list[dict[str, Any]]]:
    require_admin(caller)
    async with state.pool.acquire() as conn:
        rows = await conn.fetch("SELECT * FROM account_schedules ORDER BY account_external_id")
    return {"items": [dict(r) for r in rows]}


@routes.delete("/schedules/{account}", status_code=204)
async def delete_schedule(account: AccountPath, caller: Caller, state: State) -> Response:
    """The account has no business hours any more: no away or greeting messages."""
    require_admin(caller)
    async with state.pool.acquire() as conn:
        deleted = await conn.fetchval(
            "DELETE FROM account_schedules WHERE account_external_id = $1 RETURNING account_external_id", account
        )
    if deleted is None:
        raise NotFound(f"no schedule for {account}")
    return Response(status_code=204)
