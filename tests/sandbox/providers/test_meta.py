"""The sandbox's Send API for Messenger and Instagram answers as Meta's does."""

import httpx
import pytest

from sandbox.app import create_app


@pytest.fixture
async def graph():
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app()), base_url="http://sandbox") as client:
        yield client


BEARER = {"authorization": "Bearer page-token"}
TEXT = {"recipient": {"id": "1254477777772919"}, "messaging_type": "RESPONSE", "message": {"text": "hi"}}


async def test_a_text_message_is_recorded_and_answered_with_the_recipient_and_a_message_id(graph):
    response = await graph.post("/v21.0/108888888888881/messages", json=TEXT, headers=BEARER)
    assert response.status_code == 200
    answer = response.json()
    assert answer["recipient_id"] == "1254477777772919"
    assert answer["message_id"].startswith("m_")
    [recorded] = (await graph.get("/sandbox/requests")).json()["items"]
    assert (recorded["path"], recorded["body"]) == ("/v21.0/108888888888881/messages", TEXT)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"messaging_type": "RESPONSE", "message": {"text": "hi"}}, "recipient"),
        ({"recipient": {"id": "1"}, "messaging_type": "RESPONSE", "message": {}}, "message"),
        ({"recipient": {"id": "1"}, "messaging_type": "SOMETIME", "message": {"text": "hi"}}, "messaging_type"),
        ({"recipient": {"id": "1"}, "messaging_type": "MESSAGE_TAG", "message": {"text": "hi"}}, "Tag"),
    ],
    ids=["no-recipient", "empty-message", "bad-messaging-type", "tag-missing"],
)
async def test_a_body_the_send_api_refuses_gets_its_invalid_parameter_error(graph, body, message):
    if "recipient" not in body:
        body = {**body, "recipient": None}
    response = await graph.post("/v21.0/108888888888881/messages", json=body, headers=BEARER)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 100
    assert message in response.json()["error"]["message"]


async def test_a_send_without_a_token_is_refused_with_190(graph):
    response = await graph.post("/v21.0/108888888888881/messages", json=TEXT)
    assert (response.status_code, response.json()["error"]["code"]) == (401, 190)


@pytest.mark.parametrize(("status", "code"), [(429, 613), (500, 2), (503, 2), (400, 551)])
async def test_scripted_faults_answer_with_messengers_error_codes(graph, status, code):
    await graph.post("/sandbox/faults", json={"status": status, "count": 1})
    refused = await graph.post("/v21.0/108888888888881/messages", json=TEXT, headers=BEARER)
    assert (refused.status_code, refused.json()["error"]["code"]) == (status, code)
    accepted = await graph.post("/v21.0/108888888888881/messages", json=TEXT, headers=BEARER)
    assert accepted.status_code == 200


async def test_whatsapp_faults_keep_their_own_error_body(graph):
    await graph.post("/sandbox/faults", json={"status": 429, "count": 1})
    body = {"messaging_product": "whatsapp", "to": "972987654321", "type": "text", "text": {"body": "hi"}}
    refused = await graph.post("/v21.0/106540352242922/messages", json=body, headers=BEARER)
    assert refused.json()["error"]["code"] == 130429
