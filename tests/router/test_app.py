"""How the router app answers what escapes a handler: our outage a 503 with Retry-After, bad values a 422,
anything else a JSON 500 without a traceback."""

import asyncpg
import httpx
import pytest
from aiokafka.errors import KafkaTimeoutError
from fastapi import FastAPI

from router.app import _answer_errors_as_json
from router.settings import RouterSettings

RAISED: dict[str, BaseException] = {
    "refused": ConnectionRefusedError(111, "Connection refused"),
    "closed": asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
    "starting": asyncpg.CannotConnectNowError("the database system is starting up"),
    "kafka": KafkaTimeoutError(),
    "overflow": asyncpg.NumericValueOutOfRangeError("integer out of range"),
    "surrogate": UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"),
    "bug": RuntimeError("a bug"),
}


def make_app() -> FastAPI:
    app = FastAPI()
    _answer_errors_as_json(app, RouterSettings(admin_token="x"))

    @app.get("/v1/raise/{kind}")
    async def raising(kind: str) -> None:
        raise RAISED[kind]

    return app


async def answer(kind: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://router") as http:
        return await http.get(f"/v1/raise/{kind}")


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("refused", "database_unavailable"),
        ("closed", "database_unavailable"),
        ("starting", "database_unavailable"),
        ("kafka", "kafka_unavailable"),
    ],
)
async def test_our_outage_is_a_503_with_retry_after(kind, code):
    response = await answer(kind)
    assert response.status_code == 503
    assert response.json()["error"] == code
    assert set(response.json()) == {"error", "detail"}
    assert int(response.headers["retry-after"]) > 0


@pytest.mark.parametrize("kind", ["overflow", "surrogate"])
async def test_a_value_the_database_cannot_store_is_a_422(kind):
    response = await answer(kind)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_request"


async def test_anything_else_is_a_json_500_without_a_traceback():
    response = await answer("bug")
    assert response.status_code == 500
    assert response.json() == {"error": "internal_error", "detail": "see the router's log"}
