"""Who may call what on the agent/admin API."""

import pytest

from tests.integration.client import Switchboard, eventually
from tests.integration.conftest import ACCOUNTS

pytestmark = pytest.mark.integration


async def test_calls_without_a_valid_token_are_refused(switchboard: Switchboard):
    for headers in ({}, {"authorization": "Bearer not-a-token"}, {"authorization": "Basic abc"}):
        response = await switchboard.http.get(f"{switchboard.router}/v1/agents", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"] == "unauthenticated"


async def test_agents_cannot_do_admin_work_or_act_for_each_other(switchboard: Switchboard):
    ana = await switchboard.online_agent("Ana")
    bo = await switchboard.online_agent("Bo")
    as_ana = switchboard.as_agent(ana)
    assert (await switchboard.http.get(f"{switchboard.router}/v1/agents", headers=as_ana)).status_code == 403
    assert (
        await switchboard.http.post(f"{switchboard.router}/v1/agents", json={"name": "x"}, headers=as_ana)
    ).status_code == 403
    assert (
        await switchboard.http.put(
            f"{switchboard.router}/v1/agents/{bo['id']}/presence", json={"status": "offline"}, headers=as_ana
        )
    ).status_code == 403

    await switchboard.customer_writes("972550000001", "hi")
    await switchboard.customer_writes("972550000002", "hi")
    [bos] = await eventually(lambda: switchboard.agent_conversations(bo), what="Bo's assignment")
    url = f"{switchboard.router}/v1/conversations/{bos['id']}"
    assert (await switchboard.http.get(url, headers=as_ana)).status_code == 403
    assert (await switchboard.http.post(f"{url}/messages", json={"text": "x"}, headers=as_ana)).status_code == 403
    assert (await switchboard.http.post(f"{url}/resolve", headers=as_ana)).status_code == 403
    assert (await switchboard.http.get(url, headers=switchboard.admin)).status_code == 200


async def test_agent_creation_reports_the_defaults_and_a_token_once(switchboard: Switchboard):
    agent = await switchboard.create_agent("Ana", skills=["billing"], languages=["ko", "en"])
    assert (agent["status"], agent["pending"], agent["max_pending"]) == ("offline", 0, 5)
    assert agent["token"].startswith("sbat_")
    listed = (await switchboard.http.get(f"{switchboard.router}/v1/agents", headers=switchboard.admin)).json()
    assert [a["id"] for a in listed["items"]] == [agent["id"]]
    assert "token" not in listed["items"][0]
    accounts = (await switchboard.http.get(f"{switchboard.router}/v1/accounts", headers=switchboard.admin)).json()
    listed_accounts = {(a["channel"], a["external_id"]) for a in accounts["items"]}
    assert listed_accounts == {(a["channel"], a["external_id"]) for a in ACCOUNTS}


async def test_a_resolved_conversation_cannot_be_resolved_or_answered_again(switchboard: Switchboard):
    ana = await switchboard.online_agent("Ana")
    await switchboard.customer_writes("972550000003", "hi")
    [conversation] = await eventually(lambda: switchboard.agent_conversations(ana), what="the assignment")
    resolved = await switchboard.resolve(ana, conversation["id"])
    assert resolved["status"] == "resolved"
    again = await switchboard.http.post(
        f"{switchboard.router}/v1/conversations/{conversation['id']}/resolve", headers=switchboard.as_agent(ana)
    )
    assert again.status_code == 409
    late = await switchboard.reply(ana, conversation["id"], "one more thing")
    assert late.status_code == 409
    me = (
        await switchboard.http.get(f"{switchboard.router}/v1/agents/{ana['id']}", headers=switchboard.as_agent(ana))
    ).json()
    assert me["pending"] == 0


async def test_admins_search_conversations_by_status_channel_and_sender(switchboard: Switchboard):
    ana = await switchboard.online_agent("Ana", max_pending=1)
    await switchboard.customer_writes("972550000010", "first")
    await eventually(lambda: switchboard.agent_conversations(ana), what="the first assignment")
    await switchboard.customer_writes("972550000011", "second")

    async def search(**params):
        response = await switchboard.http.get(
            f"{switchboard.router}/v1/conversations", params=params, headers=switchboard.admin
        )
        assert response.status_code == 200, response.text
        return response.json()["items"]

    [queued] = await eventually(lambda: search(status="queued"), what="the queued conversation")
    [by_sender] = await search(channel="whatsapp", external_id="972550000011")
    assert queued["id"] == by_sender["id"]
    assert [c["status"] for c in await search(external_id="972550000010")] == ["assigned"]
    assert await search(channel="telegram") == []
    assert len(await search()) == 2
    refused = await switchboard.http.get(f"{switchboard.router}/v1/conversations", headers=switchboard.as_agent(ana))
    assert refused.status_code == 403
