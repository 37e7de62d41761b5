"""The load harness's channel mix: which channel each simulated customer writes on, and their webhooks.

Each channel's webhook is built and signed by the sandbox's builders (sandbox/webhooks/), exactly as the
provider would send it to `make run`'s development accounts (deploy/local/dev.env). A run's customers and
provider message ids carry its run id, so the report finds this run's messages on every channel.
"""

import itertools
import random
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

# Roughly what a support team sees: WhatsApp first, then Meta's other two, SMS, the Asian messengers,
# email and the site's own chat. `--channels` overrides it.
DEFAULT_MIX: Mapping[str, float] = {
    "whatsapp": 40,
    "messenger": 14,
    "instagram": 10,
    "twilio": 10,
    "line": 8,
    "telegram": 7,
    "mailgun": 5,
    "webchat": 6,
}


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


@dataclass(frozen=True)
class Customer:
    """A simulated customer on one channel; `key` is numeric and starts with the run's marker."""

    channel: str
    key: str


Builder = Callable[[Customer, str, str], Delivery]

# Telegram numbers a chat's messages in one sequence for both sides. One counter for the whole process:
# a returning customer may be written for by another delivery worker. The sandbox numbers the bot's
# messages from 1, so the customers' start far above.
_TELEGRAM_MESSAGE_IDS = itertools.count(1_000_000)


class Webhooks:
    """Builds each channel's signed webhook for a customer's next message."""

    def __init__(self, ingest_url: str, secrets: Secrets, accounts: Accounts = Accounts()) -> None:
        self._ingest_url = ingest_url.rstrip("/")
        self._secrets = secrets
        self._accounts = accounts
        self._builders: dict[str, Builder] = {
            "whatsapp": self._whatsapp,
            "messenger": self._messenger,
            "instagram": self._instagram,
            "twilio": self._twilio,
            "line": self._line,
            "telegram": self._telegram,
            "mailgun": self._mailgun,
            "webchat": self._webchat,
        }

    @property
    def channels(self) -> frozenset[str]:
        return frozenset(self._builders)

    def message(self, customer: Customer, message_key: str, text: str) -> Delivery:
        """The webhook carrying `text` from `customer`; `message_key` is unique and contains the run marker."""
        return self._builders[customer.channel](customer, message_key, text)

    def _whatsapp(self, customer: Customer, key: str, text: str) -> Delivery:
        payload = whatsapp_text(self._accounts.whatsapp, customer.key, f"wamid.{key}", text)
        return Delivery("/webhooks/whatsapp", signed_meta(payload, self._secrets.meta_app_secret))

    def _messenger(self, customer: Customer, key: str, text: str) -> Delivery:
        payload = messaging_text("messenger", self._accounts.messenger, customer.key, f"m_{key}", text)
        return Delivery("/webhooks/messenger", signed_meta(payload, self._secrets.meta_app_secret))

    def _instagram(self, customer: Customer, key: str, text: str) -> Delivery:
        payload = messaging_text("instagram", self._accounts.instagram, customer.key, f"m_{key}", text)
        return Delivery("/webhooks/instagram", signed_meta(payload, self._secrets.meta_app_secret))

    def _twilio(self, customer: Customer, key: str, text: str) -> Delivery:
        params = twilio_text(self._accounts.twilio, f"+{customer.key}", f"SM{key}", text)
        url = f"{self._ingest_url}/webhooks/twilio"  # Twilio signs the URL it posts to
        return Delivery("/webhooks/twilio", signed_twilio(params, url, self._secrets.twilio_auth_token))

    def _line(self, customer: Customer, key: str, text: str) -> Delivery:
        payload = line_text(self._accounts.line, line_user_id(customer.key), key, text)
        return Delivery("/webhooks/line", signed_line(payload, self._secrets.line_channel_secret))

    def _telegram(self, customer: Customer, key: str, text: str) -> Delivery:
        payload = telegram_text(int(customer.key), next(_TELEGRAM_MESSAGE_IDS), text)
        return Delivery("/webhooks/telegram", signed_telegram(payload, self._secrets.telegram_secret_token))

    def _mailgun(self, customer: Customer, key: str, text: str) -> Delivery:
        fields = mailgun_email(
            self._accounts.mailbox, email_address(customer.key), text, message_id=f"<{key}@customers.test>"
        )
        return Delivery("/webhooks/mailgun", signed_mailgun_form(fields, self._secrets.mailgun_signing_key))

    def _webchat(self, customer: Customer, key: str, text: str) -> Delivery:
        payload = webchat_message(self._accounts.site, f"v{customer.key}", key, text)
        return Delivery("/webhooks/webchat", signed_webchat(payload, self._secrets.webchat_signing_key))


def customer_marker(run_id: str) -> str:
    """What every customer key of a run starts with: 9 and the run id's last five digits."""
    return f"9{int(run_id) % 100000:05d}"


def message_marker(run_id: str) -> str:
    """What every message key of a run starts with."""
    return f"lt{run_id}x"


def line_user_id(key: str) -> str:
    return "U" + key.ljust(32, "0")  # U and 32 hex digits, as LINE's user ids are


def email_address(key: str) -> str:
    return f"c{key}@customers.test"


def format_mix(mix: Mapping[str, float]) -> str:
    return ",".join(f"{name}={weight:g}" for name, weight in mix.items())


def parse_mix(text: str) -> dict[str, float]:
    """`whatsapp=40,line=10` -> weights; channels left out are not used."""
    mix: dict[str, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, weight = part.partition("=")
        if name not in DEFAULT_MIX:
            raise ValueError(f"unknown channel {name!r}; known: {', '.join(DEFAULT_MIX)}")
        mix[name] = float(weight or 1)
    if not mix or sum(mix.values()) <= 0:
        raise ValueError("the channel mix needs at least one channel with a positive weight")
    return mix


def pick_channel(mix: Mapping[str, float], rng: random.Random) -> str:
    return rng.choices(list(mix), weights=list(mix.values()))[0]


# Any load run's customer id, on any channel (a POSIX regex for PostgreSQL): the run marker is 9 and five
# digits, then a six-digit sequence; Twilio adds "+", LINE "U" and padding, email "c", web chat "<site>:v".
LOAD_CUSTOMER_ID = r"^(\+|U|c|[^:]+:v)?9[0-9]{11}"


def customer_id_patterns(marker: str) -> list[str]:
    """SQL LIKE patterns matching the run's customers' ids on every channel, as the router stores them.

    `marker` is what every customer key of the run starts with.
    """
    return [f"{marker}%", f"+{marker}%", f"U{marker}%", f"c{marker}%@customers.test", f"%:v{marker}%"]


def provider_id_patterns(message_marker: str, customer_marker: str) -> list[str]:
    """SQL LIKE patterns matching the provider message ids of the run's messages on every channel.

    Telegram's ids are `<chat id>:<message id>`, and a private chat's id is the customer's.
    """
    return [
        f"wamid.{message_marker}%",
        f"m_{message_marker}%",
        f"SM{message_marker}%",
        f"{message_marker}%",
        f"<{message_marker}%",
        f"%:{message_marker}%",
        f"{customer_marker}%:%",
    ]
