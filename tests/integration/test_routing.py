"""The routing engine through real Kafka and PostgreSQL: one contact across channels, priority, skills and
language, widening, links and merges."""

import asyncio

import asyncpg
import pytest

from sandbox.webhooks import signed_meta, whatsapp_text
from tests.integration.client import Switchboard, eventually
from tests.integration.conftest import APP_SECRET, SECOND_PHONE_NUMBER_ID, Stack
from tests.integration.services import ServiceProcess
from tests.integration.test_assignment import cap_watch

pytestmark = pytest.mark.integration


async def open_conversations(db: asyncpg.Connection) -> list[asyncpg.Record]:
    return await db.fetch("SELECT id, contact_id, status FROM conversations WHERE status <> 'resolved'")


async def stored_count(db: asyncpg.Connection, n: int) -> bool:
    return int(await db.fetchval("SELECT count(*) FROM messages WHERE direction = 'inbound'")) >= n


async def test_whatsapp_then_sms_from_one_number_is_one_conversation_answered_where_they_last_wrote(
    switchboard: Switchboard, db: asyncpg.Connection
):
    agent = await switchboard.online_agent("Ana")
    await switchboard.writes_on("whatsapp", "972501230001", "My parcel is late")
    [conversation] = await eventually(lambda: switchboard.agent_conversations(agent), what="the assignment")

    await switchboard.writes_on("twilio", "+972501230001", "Sorry, writing by SMS now")

    async def both_in_one():
        detail = await switchboard.conversation(conversation["id"])
        return detail if len(detail["messages"]) == 2 else None

    detail = await eventually(both_in_one, timeout_s=5, what="the SMS in the same conversation within 5 s")
    assert [m["channel"] for m in detail["messages"]] == ["whatsapp", "twilio"]
    assert {"channel": "phone", "external_id": "+972501230001"} in detail["contact"]["identities"]
    assert len(await open_conversations(db)) == 1

    await switchboard.reply(agent, conversation["id"], "On its way")
    [request] = await eventually(switchboard.sandbox_requests, what="the reply at the provider")
    assert request["path"].endswith("/Messages.json")  # by SMS, where the customer last wrote
    assert request["body"]["To"] == "+972501230001"


async def test_a_linked_email_joins_the_open_conversation(switchboard: Switchboard, db: asyncpg.Connection):
    agent = await switchboard.online_agent("Ana")
    await switchboard.writes_on("telegram", "555000111", "Hi, order 77?")
    [conversation] = await eventually(lambda: switchboard.agent_conversations(agent), what="the assignment")
    contact_id = (await switchboard.conversation(conversation["id"]))["contact"]["id"]

    linked = await switchboard.http.post(
        f"{switchboard.router}/v1/contacts/{contact_id}/identities",
        json={"channel": "mailgun", "external_id": "dana@example.com"},
        headers=switchboard.admin,
    )
    assert linked.status_code == 200, linked.text
    await switchboard.writes_on("mailgun", "dana@example.com", "Same question by email")

    async def joined():
        detail = await switchboard.conversation(conversation["id"])
        return [m["channel"] for m in detail["messages"]] == ["telegram", "mailgun"]

    await eventually(joined, timeout_s=5, what="the email in the Telegram conversation")
    assert len(await open_conversations(db)) == 1


async def test_linking_an_identity_another_contact_has_is_refused_with_the_way_to_merge(switchboard: Switchboard):
    await switchboard.writes_on("telegram", "555000221", "one")
    await switchboard.writes_on("telegram", "555000222", "two")
    first = await eventually(lambda: contact(switchboard, "telegram", "555000221"), what="the first contact")
    await eventually(lambda: contact(switchboard, "telegram", "555000222"), what="the second contact")

    refused = await switchboard.http.post(
        f"{switchboard.router}/v1/contacts/{first['id']}/identities",
        json={"channel": "telegram", "external_id": "555000222"},
        headers=switchboard.admin,
    )

    assert refused.status_code == 409
    assert "merge" in refused.json()["detail"]


async def test_merging_two_contacts_folds_two_open_conversations_into_one_and_frees_a_slot(
    switchboard: Switchboard, db: asyncpg.Connection
):
    ana = await switchboard.online_agent("Ana")
    await switchboard.writes_on("instagram", "17000000000301", "From Instagram")
    await switchboard.writes_on("line", "U" + "b" * 32, "From LINE")
    await eventually(lambda: held(switchboard, ana, 2), what="Ana holding both")
    survivor = await contact(switchboard, "instagram", "17000000000301")
    merged = await contact(switchboard, "line", "U" + "b" * 32)
    assert survivor is not None
    assert merged is not None

    answer = await switchboard.http.post(
        f"{switchboard.router}/v1/contacts/{survivor['id']}/merge",
        json={"from_contact_id": merged["id"]},
        headers=switchboard.admin,
    )

    assert answer.status_code == 200, answer.text
    assert {i["channel"] for i in answer.json()["identities"]} == {"instagram", "line"}
    [open_one] = await open_conversations(db)
    detail = await switchboard.conversation(str(open_one["id"]))
    assert sorted(m["channel"] for m in detail["messages"]) == ["instagram", "line"]
    assert (
        await switchboard.http.get(f"{switchboard.router}/v1/agents/{ana['id']}", headers=switchboard.admin)
    ).json()["pending"] == 1


async def test_a_vip_waiting_less_is_served_before_a_normal_customer(switchboard: Switchboard, db: asyncpg.Connection):
    crm = await switchboard.http.post(
        f"{switchboard.router}/v1/crm/contacts",
        json={"channel": "whatsapp", "external_id": "972509990001", "attributes": {"monthly_spend": 4200}},
        headers=switchboard.admin,
    )
    assert crm.status_code == 200, crm.text
    assert (crm.json()["priority"], crm.json()["priority_reasons"]) == (2, ["vip"])
    await switchboard.writes_on("whatsapp", "972509990002", "normal customer, first")
    await eventually(lambda: queued(db, 1), what="the normal customer queued")
    await switchboard.writes_on("whatsapp", "972509990001", "VIP, second")
    await eventually(lambda: queued(db, 2), what="both queued")

    ana = await switchboard.online_agent("Ana", max_pending=1)

    [first] = await eventually(lambda: held(switchboard, ana, 1), what="Ana's one conversation")
    detail = await switchboard.conversation(first["id"])
    assert detail["contact"]["id"] == crm.json()["id"]
    assert detail["priority"] == 2


async def test_a_conversation_goes_to_the_agent_with_its_skill_and_language(switchboard: Switchboard):
    await switchboard.online_agent("English generalist", languages=["en"])
    korean_sales = await switchboard.online_agent("Korean sales", skills=["sales"], languages=["ko"])
    webhook = signed_meta(
        whatsapp_text(SECOND_PHONE_NUMBER_ID, "821012345678", "wamid.routing-ko", "주문 상태를 알려주세요"), APP_SECRET
    )
    assert (await switchboard.post_signed("whatsapp", webhook)).status_code == 200

    [conversation] = await eventually(lambda: held(switchboard, korean_sales, 1), what="the Korean sales agent's")
    detail = await switchboard.conversation(conversation["id"])
    assert detail["messages"][0]["text"] == "주문 상태를 알려주세요"


async def test_without_a_matching_agent_the_conversation_is_widened_to_anyone_and_that_is_recorded(
    switchboard: Switchboard, db: asyncpg.Connection
):
    generalist = await switchboard.online_agent("Generalist", languages=["en"])
    webhook = signed_meta(
        whatsapp_text(SECOND_PHONE_NUMBER_ID, "821012345679", "wamid.routing-widen", "주문 상태를 알려주세요"),
        APP_SECRET,
    )
    assert (await switchboard.post_signed("whatsapp", webhook)).status_code == 200
    await eventually(lambda: queued(db, 1), what="the sales conversation waiting for a sales agent")

    [conversation] = await eventually(
        lambda: held(switchboard, generalist, 1), what="widening after the test stack's 2 s"
    )
    row = await db.fetchrow(
        "SELECT required_skill, language, widened_at FROM conversations WHERE id = $1", conversation["id"]
    )
    assert row is not None
    assert (row["required_skill"], row["language"]) == ("sales", "ko")
    assert row["widened_at"] is not None


async def test_bursts_from_one_person_on_two_channels_with_two_routers_open_one_conversation_and_hold_the_cap(
    switchboard: Switchboard, db: asyncpg.Connection, stack: Stack, second_router: ServiceProcess
):
    agents = [await switchboard.online_agent(f"Agent {n}", max_pending=2) for n in range(3)]
    people = [f"9725077{n:05d}" for n in range(12)]
    async with cap_watch(stack.dsn) as peaks:
        await asyncio.gather(
            *(
                switchboard.writes_on(channel, sender if channel == "whatsapp" else f"+{sender}", f"{channel} {k}")
                for sender in people
                for k in range(3)
                for channel in ("whatsapp", "twilio")
            )
        )
        await eventually(lambda: stored_count(db, len(people) * 6), timeout_s=30, what="every message stored")
        conversations = await open_conversations(db)
        assert len(conversations) == len(people), "one conversation per person, whichever channel and router"
        assert len({c["contact_id"] for c in conversations}) == len(people)
        await eventually(lambda: assigned_count(db, 6), what="every slot filled")
        for agent in agents:  # capacity comes back: every queued conversation gets it
            for conversation in await switchboard.agent_conversations(agent):
                await switchboard.resolve(agent, conversation["id"])
        await eventually(lambda: assigned_count(db, 6), what="the queue refilling the freed slots")
    assert peaks
    assert max(peaks) <= 2


async def assigned_count(db: asyncpg.Connection, n: int) -> bool:
    return int(await db.fetchval("SELECT count(*) FROM conversations WHERE status = 'assigned'")) == n


async def contact(switchboard: Switchboard, channel: str, external_id: str) -> dict | None:
    answer = await switchboard.http.get(
        f"{switchboard.router}/v1/contacts",
        params={"channel": channel, "external_id": external_id},
        headers=switchboard.admin,
    )
    return answer.json() if answer.status_code == 200 else None


async def held(switchboard: Switchboard, agent: dict, n: int) -> list[dict] | None:
    conversations = await switchboard.agent_conversations(agent)
    return conversations if len(conversations) == n else None


async def queued(db: asyncpg.Connection, n: int) -> bool:
    return int(await db.fetchval("SELECT count(*) FROM conversations WHERE status = 'queued'")) == n
