"""The shape every channel's webhook module has, and the request it is given."""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from fastapi import Response

from schemas.inbound import DeliveryStatus, InboundMessage


@dataclass(frozen=True)
class WebhookRequest:
    """What a channel needs of an HTTP request: the URL it was sent to, its headers, its raw body."""

    url: str
    headers: dict[str, str]  # names lower-cased
    raw_body: bytes


@runtime_checkable
class ChannelWebhook(Protocol):
    """One provider's inbound webhook.

    `verify` raises `SignatureError` unless the raw body is signed by the provider; `parse` raises
    `PayloadError` unless the body is what the provider sends; `acknowledge` is the provider's 200.
    """

    def verify(self, request: WebhookRequest) -> None: ...

    def parse(self, request: WebhookRequest, received_at: datetime) -> list[InboundMessage | DeliveryStatus]: ...

    def acknowledge(self, accepted: int) -> Response: ...


@runtime_checkable
class ReplayGuarded(Protocol):
    """A channel whose signatures are good for one use (Mailgun's tokens).

    `admit` claims the request's signature once `verify` and `parse` accepted it; it raises
    `SignatureError` for a replay and `LedgerUnavailable` when the shared ledger cannot say.
    """

    async def admit(self, request: WebhookRequest) -> None: ...
