from collections.abc import Iterator

import httpx
import pytest

from loadtests.ports import free_port
from loadtests.reconnecting import Database, get


async def test_a_read_is_retried_through_refusals_and_a_dropped_connection():
    answers: Iterator[httpx.Response | Exception] = iter(
        [httpx.ConnectError("refused"), httpx.Response(503), httpx.Response(200, text="ok")]
    )

    def handler(request: httpx.Request) -> httpx.Response:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        response = await get(http, "http://stack/metrics", retry_for_s=10)

    assert response.text == "ok"


async def test_a_read_gives_up_at_its_deadline_with_the_last_answer():
    async with httpx.AsyncClient(transport=httpx.MockTransport(lambda _: httpx.Response(500))) as http:
        response = await get(http, "http://stack/metrics", retry_for_s=1)

    assert response.status_code == 500


async def test_a_database_that_stays_down_is_an_error_after_the_bound_not_a_hang():
    db = Database(f"postgresql://nobody:nothing@127.0.0.1:{free_port()}/none", retry_for_s=1)
    with pytest.raises(ConnectionRefusedError):
        await db.fetchval("SELECT 1")
    await db.close()
