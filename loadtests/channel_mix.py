"""The load harness's channel mix: which channel each simulated customer writes on, and their webhooks.

Each channel's webhook is built and signed by the sandbox's builders (sandbox/webhooks/), exactly as the
provider would send it to `make run`'s development accounts (deploy/local/dev.env). A run's customers and
provider message ids carry its run id, so the report finds this run's messages on every channel.
"""

import itertools
import random
from collections.abc import Mapping
from dataclasses import dataclass

from sandbox.webhooks.compose import Accounts, Delivery, Secrets, compose

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
class Customer:
    """A simulated customer on one channel; `key` is numeric and starts with the run's marker."""

    channel: str
    key: str


_TELEGRAM_MESSAGE_IDS = itertools.count(1_000_000)


class Webhooks:
    """Builds each channel's signed webhook for a customer's next message."""

    def __init__(self, ingest_url: str, secrets: Secrets, accounts: Accounts) -> None:
        self._ingest_url = ingest_url
        self._secrets = secrets
        self._accounts = accounts

    def message(self, customer: Customer, message_key: str, text: str) -> Delivery:
        """The webhook carrying `text` from `customer`; `message_key` is unique and contains the run marker."""
        # Telegram numbers a chat's messages in one sequence for both sides. One counter for the whole
        # process: a returning customer may be written for by another delivery worker. The sandbox numbers
        # the bot's messages from 1, so the customers' start far above.
        message_id = str(next(_TELEGRAM_MESSAGE_IDS)) if customer.channel == "telegram" else message_key
        return compose(
            customer.channel,
            sender_id(customer),
            message_id,
            text,
            ingest_url=self._ingest_url,
            secrets=self._secrets,
            accounts=self._accounts,
        )


def sender_id(customer: Customer) -> str:
    """The customer's id as their channel writes it; every form keeps the numeric key with the run marker."""
    key = customer.key
    return {
        "twilio": f"+{key}",
        "line": "U" + key.ljust(32, "0"),  # U and 32 hex digits, as LINE's user ids are
        "mailgun": f"c{key}@customers.test",
        "webchat": f"v{key}",
    }.get(customer.channel, key)


def customer_marker(run_id: str) -> str:
    """What every customer key of a run starts with: 9 and the run id's last five digits."""
    return f"9{int(run_id) % 100000:05d}"


def message_marker(run_id: str) -> str:
    """What every message key of a run starts with."""
    return f"lt{run_id}x"


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
