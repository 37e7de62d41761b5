"""What a channel's `send` looks like, and what it returns when the provider accepted the message."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import httpx

from schemas.outbound import OutboundMessage
from services.accounts import ChannelAccount


@dataclass(frozen=True)
class SendResult:
    """The provider's id for the message it accepted; its receipts will name it."""

    provider_message_id: str


# (HTTP client, the account the reply leaves from, the reply, now) -> the provider's id for it.
Send = Callable[[httpx.AsyncClient, ChannelAccount, OutboundMessage, datetime], Awaitable[SendResult]]
