"""A test's view of Switchboard: post webhooks as WhatsApp would, call the API as agents and admins do."""

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
import orjson

from sandbox.webhooks import SignedWebhook, signed_meta, whatsapp_status, whatsapp_text

T = TypeVar("T")
_wamids = itertools.count(1)


async def eventually(probe: Callable[[], Awaitable[T | None]], timeout_s: float = 15, what: str = "condition") -> T:
    """Poll `probe` until it returns something truthy, or fail after the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        result = await probe()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
        await asyncio.sleep(0.05)


class Events:
    """A text/event-stream being read: `next()` waits (bounded) for the next event."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.aiter_lines()

    async def next(self, timeout_s: float = 15) -> tuple[str, Any]:
        async with asyncio.timeout(timeout_s):
            event, data = "message", list[str]()
            async for line in self._lines:
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].lstrip())
                elif not line and data:
                    return event, orjson.loads("\n".join(data))
        raise AssertionError("the event stream ended")


class Switchboard:
    def __init__(
        self,
        http: httpx.AsyncClient,
        ingest: str,
        router: str,
        sandbox: str,
        admin_token: str,
        app_secret: str,
        phone_number_id: str,
    ) -> None:
        self.http = http
        self.ingest = ingest
        self.router = router
        self.sandbox = sandbox
        self.admin = {"authorization": f"Bearer {admin_token}"}
        self.app_secret = app_secret
        self.phone_number_id = phone_number_id

    # Webhooks -----------------------------------------------------------------------------------

    async def post_signed(self, channel: str, signed: SignedWebhook, query: str = "") -> httpx.Response:
        """POST a provider's signed webhook to `/webhooks/{channel}` as the provider would."""
        url = f"{self.ingest}/webhooks/{channel}" + (f"?{query}" if query else "")
        return await self.http.post(url, content=signed.body, headers=signed.headers)

    async def post_webhook(self, payload: dict[str, Any], *, secret: str | None = None) -> httpx.Response:
        signed = signed_meta(payload, secret or self.app_secret)
        return await self.http.post(f"{self.ingest}/webhooks/whatsapp", content=signed.body, headers=signed.headers)

    async def customer_writes(
        self, wa_id: str, text: str, *, wamid: str | None = None, timestamp: int | None = None
    ) -> str:
        wamid = wamid or f"wamid.test{next(_wamids):06d}{wa_id}"
        response = await self.post_webhook(whatsapp_text(self.phone_number_id, wa_id, wamid, text, timestamp=timestamp))
        assert response.status_code == 200, response.text
        return wamid

    async def writes_on(self, channel: str, sender: str, text: str) -> None:
        """A customer writes on any channel: the sandbox composes and posts the provider's signed webhook."""
        answer = await self.http.post(f"{self.sandbox}/sandbox/webhooks/{channel}", json={"from": sender, "text": text})
        assert answer.status_code == 200, answer.text

    async def provider_reports(self, wa_id: str, wamid: str, status: str) -> None:
        response = await self.post_webhook(whatsapp_status(self.phone_number_id, wa_id, wamid, status))
        assert response.status_code == 200, response.text

    # Agent / admin API --------------------------------------------------------------------------

    async def create_agent(self, name: str, **fields: Any) -> dict[str, Any]:
        response = await self.http.post(f"{self.router}/v1/agents", json={"name": name, **fields}, headers=self.admin)
        assert response.status_code == 201, response.text
        agent: dict[str, Any] = response.json()
        return agent

    async def set_presence(self, agent: dict[str, Any], status: str) -> dict[str, Any]:
        response = await self.http.put(
            f"{self.router}/v1/agents/{agent['id']}/presence", json={"status": status}, headers=self.as_agent(agent)
        )
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def online_agent(self, name: str, **fields: Any) -> dict[str, Any]:
        agent = await self.create_agent(name, **fields)
        await self.set_presence(agent, "online")
        return agent

    async def agent_conversations(self, agent: dict[str, Any]) -> list[dict[str, Any]]:
        response = await self.http.get(
            f"{self.router}/v1/agents/{agent['id']}/conversations", headers=self.as_agent(agent)
        )
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        return items

    async def conversation(self, conversation_id: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
        response = await self.http.get(
            f"{self.router}/v1/conversations/{conversation_id}", headers=headers or self.admin
        )
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def reply(self, agent: dict[str, Any], conversation_id: str, text: str) -> httpx.Response:
        return await self.http.post(
            f"{self.router}/v1/conversations/{conversation_id}/messages",
            json={"text": text},
            headers=self.as_agent(agent),
        )

    async def reply_and_resolve(self, agent: dict[str, Any], conversation_id: str, text: str) -> httpx.Response:
        return await self.http.post(
            f"{self.router}/v1/conversations/{conversation_id}/messages",
            json={"text": text, "resolve": True},
            headers=self.as_agent(agent),
        )

    @asynccontextmanager
    async def live_events(self, agent: dict[str, Any], as_agent: dict[str, Any] | None = None) -> AsyncIterator[Events]:
        """The agent's server-sent event stream, open for the block, read as (event, data) pairs."""
        url = f"{self.router}/v1/agents/{agent['id']}/events"
        async with self.http.stream("GET", url, headers=self.as_agent(as_agent or agent), timeout=None) as response:
            yield Events(response)

    async def resolve(self, agent: dict[str, Any], conversation_id: str) -> dict[str, Any]:
        response = await self.http.post(
            f"{self.router}/v1/conversations/{conversation_id}/resolve", headers=self.as_agent(agent)
        )
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def heartbeat(self, agent: dict[str, Any], as_agent: dict[str, Any] | None = None) -> httpx.Response:
        return await self.http.post(
            f"{self.router}/v1/agents/{agent['id']}/heartbeat", headers=self.as_agent(as_agent or agent)
        )

    async def agent(self, agent: dict[str, Any]) -> dict[str, Any]:
        response = await self.http.get(f"{self.router}/v1/agents/{agent['id']}", headers=self.admin)
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def transfer(self, conversation_id: str, body: dict[str, Any], headers: dict[str, str]) -> httpx.Response:
        """POST /transfer with `{"to_agent_id": ...}` or `{"to": "queue"}`, as `headers` says who asks."""
        return await self.http.post(
            f"{self.router}/v1/conversations/{conversation_id}/transfer", json=body, headers=headers
        )

    async def add_note(self, conversation_id: str, text: str, headers: dict[str, str]) -> httpx.Response:
        return await self.http.post(
            f"{self.router}/v1/conversations/{conversation_id}/notes", json={"text": text}, headers=headers
        )

    @staticmethod
    def as_agent(agent: dict[str, Any]) -> dict[str, str]:
        return {"authorization": f"Bearer {agent['token']}"}

    # Sandbox ------------------------------------------------------------------------------------

    async def reset_sandbox(self) -> None:
        await self.http.delete(f"{self.sandbox}/sandbox/requests")
        await self.http.delete(f"{self.sandbox}/sandbox/faults")

    async def sandbox_requests(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = (await self.http.get(f"{self.sandbox}/sandbox/requests")).json()["items"]
        return items

    async def sandbox_fails(self, status: int, count: int) -> None:
        response = await self.http.post(f"{self.sandbox}/sandbox/faults", json={"status": status, "count": count})
        assert response.status_code == 204
