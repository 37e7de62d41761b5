"""Twilio's webhook signature: `X-Twilio-Signature`, as twilio-python's `RequestValidator` checks it.

The signed string is the full URL Twilio called (query string included) followed by every POST parameter
as name + value, in sorted name order (a repeated name's values sorted too), with no delimiters; the
signature is base64(HMAC-SHA1(auth token, that string)). Because "sig generation on back end is
inconsistent", the SDK accepts the URL with and without its port (`:443` for https, `:80` otherwise).
Sources: twilio/twilio-python twilio/request_validator.py; twilio.com/docs/usage/webhooks/webhooks-security.
There is no timestamp, so no replay protection from Twilio: a replay is harmless because the router stores
each MessageSid once and a receipt only moves a status forward.
"""

import base64
import hashlib
import hmac
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit


def sign(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """The `X-Twilio-Signature` Twilio sends for a POST of `params` to `url`."""
    # Sorting (name, value) pairs orders by name, then a repeated name's values: the SDK's order.
    payload = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def url_variants(url: str) -> tuple[str, str]:
    """The URL without and with its port, the two forms the SDK accepts a signature for."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:  # not a port at all: nothing to add or remove
        return url, url
    if port is None:
        default = 443 if parts.scheme == "https" else 80
        return url, urlunsplit(parts._replace(netloc=f"{parts.netloc}:{default}"))
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit(":", 1)[0])), url


def is_valid(auth_token: str, url: str, params: list[tuple[str, str]], signature: str) -> bool:
    """Whether `signature` is Twilio's for this URL (with or without port) and these parameters."""
    received = signature.encode()
    return any(
        hmac.compare_digest(sign(auth_token, candidate, params).encode(), received) for candidate in url_variants(url)
    )
