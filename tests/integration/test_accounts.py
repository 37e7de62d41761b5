"""Several accounts on one channel: a message is routed by the account it arrived on, and the reply leaves
from that same account with that account's credentials."""

import pytest

from sandbox.webhooks import signed_meta, whatsapp_text
from tests.integration.client import Switchboard, eventually
from tests.integration.conftest import APP_SECRET, PHONE_NUMBER_ID, SECOND_PHONE_NUMBER_ID

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("phone_number_id", "token"),
    [(PHONE_NUMBER_ID, "test-whatsapp-token"), (SECOND_PHONE_NUMBER_ID, "test-whatsapp-sales-token")],
)
async def test_the_reply_leaves_from_the_number_the_customer_wrote_to(
    switchboard: Switchboard, phone_number_id: str, token: str
):
    agent = await switchboard.online_agent("Ana")
    wa_id = "972501113344"
    webhook = signed_meta(whatsapp_text(phone_number_id, wa_id, f"wamid.acct{phone_number_id}", "hi"), APP_SECRET)
    assert (await switchboard.post_signed("whatsapp", webhook)).status_code == 200
    [conversation] = await eventually(lambda: switchboard.agent_conversations(agent), what="the assignment")
    assert conversation["account_external_id"] == phone_number_id

    assert (await switchboard.reply(agent, conversation["id"], "Hello from the right number")).status_code == 202

    [request] = await eventually(switchboard.sandbox_requests, what="the send at the sandbox")
    assert request["path"] == f"/v21.0/{phone_number_id}/messages"
    assert request["headers"]["authorization"] == f"Bearer {token}"
    assert request["body"]["to"] == wa_id
