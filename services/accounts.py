"""Channel accounts (a WhatsApp number, a Page, a LINE bot...) declared in configuration."""

import uuid

from pydantic import BaseModel, ConfigDict, SecretStr

from schemas.inbound import Channel

_ACCOUNT_NAMESPACE = uuid.UUID("6f1c1f0e-2b9e-4e53-9a57-8f1a3f0f5c21")


class ChannelAccount(BaseModel):
    """One account on a channel with its credentials; its id is derived, so every process agrees on it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    channel: Channel
    external_id: str  # the provider's id: phone_number_id, page id, IG id, phone number, bot id, mailbox, site
    name: str
    # Sending: the Graph/LINE/Telegram token, Twilio's auth token (with `api_user` = the AccountSid).
    access_token: SecretStr = SecretStr("")
    api_user: str = ""
    # Receiving, where the provider signs per account (LINE channel secret, Telegram secret_token, a
    # webchat site's key); empty means the channel-wide secret from the settings.
    webhook_secret: SecretStr = SecretStr("")
    # The skill every conversation arriving on this account requires (a billing number, a VIP line...).
    skill: str | None = None

    @property
    def id(self) -> uuid.UUID:
        return uuid.uuid5(_ACCOUNT_NAMESPACE, f"{self.channel}:{self.external_id}")


def accounts_on(accounts: tuple[ChannelAccount, ...], channel: str) -> tuple[ChannelAccount, ...]:
    return tuple(account for account in accounts if account.channel == channel)


def find_account(accounts: tuple[ChannelAccount, ...], channel: str, external_id: str) -> ChannelAccount | None:
    """The configured account a message arrived on or must leave from, if there is one."""
    for account in accounts:
        if account.channel == channel and account.external_id == external_id:
            return account
    return None
