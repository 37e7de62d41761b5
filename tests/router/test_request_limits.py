"""The router API's request limits: bodies capped before they are read, every refusal a JSON error."""

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from router.app import _answer_errors_as_json
from router.request_limits import RequestLimits
from router.settings import RouterSettings
from router.views import Text

LIMIT = 64 * 1024


class Body(BaseModel):
    text: Text
    padding: str = ""


def make_app() -> tuple[FastAPI, list[str]]:
    app = FastAPI()
    handled: list[str] = []
    _answer_errors_as_json(app, RouterSettings(admin_token="x", max_body_bytes=LIMIT))

    @app.post("/v1/echo")
    async def echo(body: Body) -> dict[str, int]:
        handled.append(body.text[:10])
        return {"length": len(body.text)}

    return app, handled


def client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://router")


async def test_a_declared_length_over_the_limit_is_refused_before_anything_is_read():
    reads = 0

    async def app(scope, receive, send):
        nonlocal reads
        reads += 1
        raise AssertionError("the app must not run")

    limited = RequestLimits(app, max_body_bytes=LIMIT)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=limited), base_url="http://router") as http:
        response = await http.post("/v1/echo", content=b"x" * (LIMIT + 1))
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert reads == 0


async def test_a_streamed_body_is_counted_and_refused_once_it_passes_the_limit():
    app, handled = make_app()
    sent = 0

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked, as a hostile client would
        nonlocal sent
        yield b'{"text": "'
        for _ in range(1000):
            sent += 1
            yield b"x" * 1024

    async with client(app) as http:
        response = await http.post("/v1/echo", content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json() == {"error": "payload_too_large", "detail": f"request bodies are limited to {LIMIT} bytes"}
    assert handled == []


async def test_a_body_under_the_limit_is_handled():
    app, handled = make_app()
    async with client(app) as http:
        response = await http.post("/v1/echo", json={"text": "x" * 100, "padding": "x" * (LIMIT - 200)})
    assert response.status_code == 200
    assert handled == ["xxxxxxxxxx"]


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"text": "unterminated', "application/json"),
        (b"", "application/json"),
        (b"[1, 2]", "application/json"),
        (b'{"text": 5}', "application/json"),
        (b"text=hello", "application/x-www-form-urlencoded"),
        (b'{"text": "hi"}', "text/plain"),
        (b"\xff\xfe\x00", "application/json"),
        (b'{"text": "\\ud800"}', "application/json"),
        (b'{"text": "a\\u0000b"}', "application/json"),
        (b'{"text": NaN}', "application/json"),
    ],
)
async def test_malformed_json_and_wrong_content_types_are_a_4xx_json_error(content, content_type):
    app, handled = make_app()
    async with client(app) as http:
        response = await http.post("/v1/echo", content=content, headers={"content-type": content_type})
    assert 400 <= response.status_code < 500, response.text
    assert set(response.json()) == {"error", "detail"}
    assert handled == []


async def test_unknown_paths_and_methods_answer_json_404_and_405():
    app, _ = make_app()
    async with client(app) as http:
        missing = await http.get("/v1/nothing-here")
        wrong_method = await http.delete("/v1/echo")
    assert (missing.status_code, missing.json()["error"]) == (404, "not_found")
    assert (wrong_method.status_code, wrong_method.json()["error"]) == (405, "method_not_allowed")
    assert "POST" in wrong_method.headers["allow"]


async def test_nul_in_the_path_or_query_is_refused():
    app, _ = make_app()
    async with client(app) as http:
        in_path = await http.get("/v1/contacts/%00")
        in_query = await http.get("/v1/conversations?channel=a%00b")
    assert (in_path.status_code, in_query.status_code) == (400, 400)
    assert in_query.json()["error"] == "bad_request"


async def test_a_content_length_that_is_not_a_number_is_refused():
    async def app(scope, receive, send):
        raise AssertionError("the app must not run")

    limited = RequestLimits(app, max_body_bytes=LIMIT)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=limited), base_url="http://router") as http:
        response = await http.post("/v1/echo", content=b"{}", headers={"content-length": "1e9"})
    assert response.status_code == 400
