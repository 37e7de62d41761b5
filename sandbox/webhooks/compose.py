"""Any channel's signed webhook for one customer text message, as the provider would post it to ingest.

Used by the load harness's channel mix and the sandbox's `POST /sandbox/webhooks/{channel}` (the demo):
give the channel, the customer's id as that channel writes it, a message id and the text.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import orjson

from sandbox.webhooks import SignedWebhook, signed_meta, whatsapp_text
from sandbox.webhooks.line import line_text, signed_line
from sandbox.webhooks.mailgun import mailgun_email, signed_mailgun_form
from sandbox.webhooks.meta_messaging import messaging_text
from sandbox.webhooks.telegram import signed_telegram, telegram_text
from sandbox.webhooks.twilio import signed_twilio, twilio_text
from sandbox.webhooks.webchat import signed_webchat, webchat_message


@dataclass(frozen=True)
class Secrets:
    """The development webhook secrets (deploy/local/dev.env)."""

    meta_app_secret: str = "dev-meta-app-secret"
    twilio_auth_token: str = "dev-twilio-auth-token"
    line_channel_secret: str = "dev-line-channel-secret"
    telegram_secret_token: str = "dev-telegram-secret-token"
    mailgun_signing_key: str = "dev-mailgun-signing-key"
    webchat_signing_key: str = "dev-webchat-signing-key"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "Secrets":
        """The secrets a stack was configured with (its SWITCHBOARD_* variables)."""
        defaults = cls()
        return cls(
            **{
                name: env.get(f"SWITCHBOARD_{name.upper()}", getattr(defaults, name))
                for name in cls.__dataclass_fields__
            }
        )


@dataclass(frozen=True)
class Accounts:
    """The accounts the simulated customers write to: the first configured one on each channel."""

    whatsapp: str = "106540352242922"
    messenger: str = "108888888888881"
    instagram: str = "17841400000000001"
    twilio: str = "+15550100001"
    line: str = "U00000000000000000000000000000dev"
    mailbox: str = "support@switchboard.test"
    site: str = "site-dev"

    @classmethod
    def from_configured(cls, accounts_json: str) -> "Accounts":
        """From a stack's SWITCHBOARD_ACCOUNTS."""
        first: dict[str, str] = {}
        for account in orjson.loads(accounts_json or "[]"):
            first.setdefault(account["channel"], account["external_id"])
        defaults = cls()
        return cls(
            whatsapp=first.get("whatsapp", defaults.whatsapp),
            messenger=first.get("messenger", defaults.messenger),
            instagram=first.get("instagram", defaults.instagram),
            twilio=first.get("twilio", defaults.twilio),
            line=first.get("line", defaults.line),
            mailbox=first.get("mailgun", defaults.mailbox),
            site=first.get("webchat", defaults.site),
        )


@dataclass(frozen=True)
class Delivery:
    """One webhook to post: the path under ingest and the signed request."""

    path: str
    webhook: SignedWebhook


Composer = Callable[[str, str, str, "Secrets", "Accounts", str], Delivery]


def compose(
    channel: str,
    sender: str,
    message_id: str,
    text: str,
    *,
    ingest_url: str,
    secrets: Secrets,
    accounts: Accounts,
) -> Delivery:
    """`sender`'s message `text` on `channel`, signed as its provider signs; raises KeyError for an unknown channel.

    `sender` is the channel's own customer id: a wa_id, PSID, IGSID, +E.164 number, LINE user id, Telegram
    user id, email address or web chat visitor id. Telegram's message ids are integers.
    """
    return _COMPOSERS[channel](sender, message_id, text, secrets, accounts, ingest_url.rstrip("/"))


def _whatsapp(sender: str, message_id: str, text: str, secrets: Secrets, accounts: Accounts, _: str) -> Delivery:
    payload = whatsapp_text(accounts.whatsapp, sender, f"wamid.{message_id}", text)
    return Delivery("/webhooks/whatsapp", signed_meta(payload, secrets.meta_app_secret))


def _messenger(sender: str, message_id: str, text: str, secrets: Secrets, accounts: Accounts, _: str) -> Delivery:
    payload = messaging_text("messenger", accounts.messenger, sender, f"m_{message_id}", text)
    return Delivery("/webhooks/messenger", signed_meta(payload, secrets.meta_app_secret))


def _instagram(sender: str, message_id: str, text: str, secrets: Secrets, accounts: Accounts, _: str) -> Delivery:
    payload = messaging_text("instagram", accounts.instagram, sender, f"m_{message_id}", text)
    return Delivery("/webhooks/instagram", signed_meta(payload, secrets.meta_app_secret))


def _twilio(sender: str, message_id: str, text: str, secrets: Secrets, accounts: Accounts, ingest: str) -> Delivery:
    params = twilio_text(accounts.twilio, sender, f"SM{message_id}", text)
    # Twilio signs the URL it posts to.
    return Delivery("/webhooks/twilio", signed_twilio(params, f"{ingest}/webhooks/twilio", secrets.twilio_auth_token))


def _line(sender: str, message_id: str, text: str, secrets: Secrets, accounts: Accounts, _: str) -> Delivery:
    payload = line_text(accounts.line, sender, message_id, text)
    return Delivery("/webhooks/line", signed_line(payload, secrets.line_channel_secret))


def _telegram(sender: str, message_id: str, text: str, secrets: Secrets, accounts: Accounts, _: str) -> Delivery:
    payload = telegram_text(int(sender), int(message_id), text)
    return Delivery("/webhooks/telegram", signed_telegram(payload, secrets.telegram_secret_token))


def _mailgun(sender: str, message_id: str, text: str, secrets: Secrets, accounts: Accounts, _: str) -> Delivery:
    domain = sender.rpartition("@")[2] or "customers.test"
    fields = mailgun_email(accounts.mailbox, sender, text, message_id=f"<{message_id}@{domain}>")
    return Delivery("/webhooks/mailgun", signed_mailgun_form(fields, secrets.mailgun_signing_key))


def _webchat(sender: str, message_id: str, text: str, secrets: Secrets, accounts: Accounts, _: str) -> Delivery:
    payload = webchat_message(accounts.site, sender, message_id, text)
    return Delivery("/webhooks/webchat", signed_webchat(payload, secrets.webchat_signing_key))


_COMPOSERS: Mapping[str, Composer] = {
    "whatsapp": _whatsapp,
    "messenger": _messenger,
    "instagram": _instagram,
    "twilio": _twilio,
    "line": _line,
    "telegram": _telegram,
    "mailgun": _mailgun,
    "webchat": _webchat,
}
CHANNELS = frozenset(_COMPOSERS)
