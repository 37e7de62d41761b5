"""What a channel's `send` returns when the provider accepted the message."""

from dataclasses import dataclass


@dataclass(frozen=True)
class SendResult:
    """The provider's id for the message it accepted; its receipts will name it."""

    provider_message_id: str
