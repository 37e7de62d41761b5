"""What httpx over aiohttp's transport raises for each way a call can fail, and what that means for a reply.

Real sockets on loopback, no mocks: the mapping under test is httpx-aiohttp's, which is not ours.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest

from dispatcher.errors import OutcomeUnknown, RetryableError
from dispatcher.provider_client import make_provider_client, transport_failure
from dispatcher.settings import DispatcherSettings
from loadtests.ports import free_port

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def served(handler: Handler) -> AsyncIterator[str]:
    # Closing the server does not close the connections it accepted: a handler still waiting (`silent`)
    # would leave its socket to the garbage collector, whose ResourceWarning then fails a later test.
    writers: list[asyncio.StreamWriter] = []

    async def tracked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        await handler(reader, writer)

    server = await asyncio.start_server(tracked, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/messages"
    finally:
        server.close()
        for writer in writers:
            writer.close()
        await server.wait_closed()


async def read_request(reader: asyncio.StreamReader) -> None:
    await reader.readuntil(b"\r\n\r\n")
    await reader.read(2)  # the body, {}


async def failure(url: str, timeout_s: float = 1.0) -> RetryableError | OutcomeUnknown:
    async with make_provider_client(DispatcherSettings(send_timeout_s=timeout_s)) as client:
        with pytest.raises(httpx.TransportError) as raised:
            await client.post(url, json={})
    return transport_failure(raised.value, "provider", resend_safe=False)


async def test_a_refused_connection_sent_nothing_and_is_retried():
    assert isinstance(await failure(f"http://127.0.0.1:{free_port()}/messages"), RetryableError)


async def test_a_provider_that_read_the_request_and_never_answered_is_outcome_unknown():
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(5)

    async for url in served(silent):
        error = await failure(url, timeout_s=0.5)
        assert isinstance(error, OutcomeUnknown)
        assert not error.resend_safe


async def test_a_connection_dropped_after_the_request_is_outcome_unknown():
    # httpx-aiohttp maps aiohttp's ServerDisconnectedError to httpx.ConnectTimeout: it must not read as unsent.
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.close()

    async for url in served(hang_up):
        assert isinstance(await failure(url), OutcomeUnknown)


async def test_a_broken_answer_is_outcome_unknown():
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b'HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{"ok":')
        await writer.drain()
        writer.close()

    async for url in served(garbage):
        async with make_provider_client(DispatcherSettings(send_timeout_s=1)) as client:
            with pytest.raises(httpx.TransportError) as raised:
                (await client.post(url, json={})).raise_for_status()
        assert isinstance(transport_failure(raised.value, "provider"), OutcomeUnknown)


def test_httpx_own_connect_errors_read_as_nothing_sent():
    request = httpx.Request("POST", "http://provider.test/messages")
    for error in (httpx.ConnectError("refused", request=request), httpx.PoolTimeout("pool", request=request)):
        assert isinstance(transport_failure(error, "provider"), RetryableError)
    assert isinstance(transport_failure(httpx.ReadTimeout("slow", request=request), "provider"), OutcomeUnknown)
