import httpx
import pytest

from dispatcher.provider_client import make_provider_client
from dispatcher.settings import DispatcherSettings


async def test_an_unreachable_provider_surfaces_as_an_httpx_transport_error():
    # The channel modules retry on httpx.TransportError; the aiohttp transport must keep raising it.
    async with make_provider_client(DispatcherSettings(send_timeout_s=2)) as client:
        with pytest.raises(httpx.TransportError):
            await client.post("http://127.0.0.1:1/v21.0/1/messages", json={})
