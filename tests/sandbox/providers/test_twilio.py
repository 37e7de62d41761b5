"""The sandbox's Twilio Messages API answers as Twilio does: 201 with a Message resource, or Twilio's errors."""

import httpx
import pytest
from fastapi import FastAPI

from sandbox.providers.twilio import routes
from sandbox.state import Fault, Sandbox

SID = "AC00000000000000000000000000000001"
PATH = f"/2010-04-01/Accounts/{SID}/Messages.json"
FORM = {"To": "+14155550100", "From": "+15550100001", "Body": "hello"}


@pytest.fixture
def sandbox():
    return Sandbox()


@pytest.fixture
async def twilio(sandbox):
    app = FastAPI()
    app.include_router(routes(sandbox))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox") as client:
        yield client


async def test_a_create_answers_201_with_a_queued_message_and_is_recorded(twilio, sandbox):
    response = await twilio.post(PATH, data=FORM, auth=(SID, "token"))
    assert response.status_code == 201
    message = response.json()
    assert message["sid"].startswith("SM")
    assert len(message["sid"]) == 34
    assert (message["status"], message["to"], message["from"], message["body"]) == (
        "queued",
        "+14155550100",
        "+15550100001",
        "hello",
    )
    assert message["uri"] == f"/2010-04-01/Accounts/{SID}/Messages/{message['sid']}.json"
    [request] = sandbox.requests
    assert (request["path"], request["body"]) == (PATH, FORM)


@pytest.mark.parametrize(
    "auth", [None, ("AC99999999999999999999999999999999", "token"), (SID, "")], ids=["none", "other-sid", "no-token"]
)
async def test_a_caller_not_authenticated_as_the_account_gets_20003(twilio, auth):
    response = await twilio.post(PATH, data=FORM, auth=auth)
    assert response.status_code == 401
    assert response.json() == {
        "code": 20003,
        "message": "Authenticate",
        "more_info": "https://www.twilio.com/docs/errors/20003",
        "status": 401,
    }


@pytest.mark.parametrize(
    ("form", "code"),
    [
        ({"From": "+15550100001", "Body": "hi"}, 21604),
        ({"To": "+14155550100", "Body": "hi"}, 21603),
        ({"To": "+14155550100", "From": "+15550100001"}, 21602),
        ({**FORM, "Body": "x" * 1601}, 21617),
    ],
    ids=["no-to", "no-from", "no-body", "too-long"],
)
async def test_an_incomplete_message_gets_twilios_400(twilio, form, code):
    response = await twilio.post(PATH, data=form, auth=(SID, "token"))
    assert (response.status_code, response.json()["code"]) == (400, code)


async def test_scripted_faults_answer_with_twilios_error_for_that_status(twilio, sandbox):
    sandbox.faults.extend([Fault(status=429), Fault(status=500)])
    limited = await twilio.post(PATH, data=FORM, auth=(SID, "token"))
    broken = await twilio.post(PATH, data=FORM, auth=(SID, "token"))
    accepted = await twilio.post(PATH, data=FORM, auth=(SID, "token"))
    assert [(r.status_code, r.json().get("code")) for r in (limited, broken)] == [(429, 20429), (500, 20500)]
    assert accepted.status_code == 201
    assert len(sandbox.requests) == 3
