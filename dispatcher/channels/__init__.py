"""The registry of channels the dispatcher sends through; each module has the same `send` shape."""

from collections.abc import Awaitable, Callable
from datetime import datetime

import httpx

from dispatcher.channels import whatsapp
from dispatcher.result import SendResult
from dispatcher.settings import DispatcherSettings
from schemas.outbound import OutboundMessage
from services.accounts import ChannelAccount

Send = Callable[[httpx.AsyncClient, ChannelAccount, OutboundMessage, datetime], Awaitable[SendResult]]


def build_senders(settings: DispatcherSettings) -> dict[str, Send]:
    """Every channel's `send`, bound to its configured API base URL."""
    base = settings.whatsapp_api_base

    async def send_whatsapp(
        client: httpx.AsyncClient, account: ChannelAccount, outbound: OutboundMessage, now: datetime
    ) -> SendResult:
        return await whatsapp.send(client, base, account, outbound, now)

    return {"whatsapp": send_whatsapp}
