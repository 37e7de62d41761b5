"""The hostile-input corpus: malformed, oversized, mis-signed and out-of-range requests for every webhook and
every `/v1` call, each with the answer it must get.

Signatures are computed here from the providers' documented schemes (../shared/reference/channels.md), with
hmac/hashlib only, so the suite does not trust ingest's own signing code. Every request carries a token
unique to the run (`Corpus.token`) in its ids or text: after the run, a refused request's token must be
in no PostgreSQL row and no Kafka record.
"""

import base64
import hashlib
import hmac
import itertools
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode
from uuid import uuid4

from tests.integration.conftest import (
    ACCOUNTS,
    ADMIN_TOKEN,
    APP_SECRET,
    LINE_CHANNEL_SECRET,
    MAILGUN_SIGNING_KEY,
    PHONE_NUMBER_ID,
    TELEGRAM_SECRET_TOKEN,
    TWILIO_AUTH_TOKEN,
    VERIFY_TOKEN,
    WEBCHAT_SIGNING_KEY,
)

REFUSED = "refused"  # a 4xx with {"error", "detail"}
ACCEPTED = "accepted"  # 200 (Twilio: TwiML) or the /v1 call's 2xx
EITHER = "either"  # accepted, or refused as above: never a 5xx
HANDSHAKE = "handshake"  # Meta's handshake: 200 with the challenge as text

CHANNELS = ("whatsapp", "messenger", "instagram", "twilio", "line", "telegram", "mailgun", "webchat")
JSON_CHANNELS = ("whatsapp", "messenger", "instagram", "line", "telegram", "webchat")
MAX_BODY = 1024 * 1024


def _account(channel: str) -> str:
    return next(a["external_id"] for a in ACCOUNTS if a["channel"] == channel)


@dataclass
class Case:
    """One request and the answer it must get."""

    category: str
    name: str
    target: str  # "ingest" or "router"
    method: str
    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    expect: str = REFUSED
    token: str = ""
    declared_length: int | None = None  # sent raw: this Content-Length, then only `body`, then silence
    chunked: bool = False
    stored_text: str | None = None  # an accepted message's text as it must be stored
    ordered: bool = False  # sent after the others, one at a time in corpus order (a call and its follow-up)
    statuses: tuple[int, ...] = ()  # when refused, the statuses that are right (any 4xx if empty)

    def describe(self) -> str:
        return f"[{self.category}] {self.name}: {self.method} {self.path[:120]}"


# Signing, per the providers' documentation ----------------------------------------------------------


def meta_signature(body: bytes, secret: str = APP_SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def line_signature(body: bytes, secret: str = LINE_CHANNEL_SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def twilio_signature(url: str, params: list[tuple[str, str]], token: str = TWILIO_AUTH_TOKEN) -> str:
    payload = url + "".join(name + value for name, value in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), payload.encode(), hashlib.sha1).digest()).decode()


def mailgun_signature(timestamp: str, token: str, key: str = MAILGUN_SIGNING_KEY) -> str:
    return hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()


def webchat_signature(timestamp: str, body: bytes, key: str = WEBCHAT_SIGNING_KEY) -> str:
    return "sha256=" + hmac.new(key.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def _table(entries: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """The (name, value) rows of a table of cases, whatever each value's type."""
    return iter(entries.items())


def dumps(value: Any) -> bytes:
    """JSON as Python writes it: big integers, NaN and lone surrogates (escaped) included."""
    return json.dumps(value).encode()


def nested(depth: int, kind: str = "list") -> str:
    return "[" * depth + "]" * depth if kind == "list" else '{"a":' * depth + "1" + "}" * depth


# What each provider sends: one customer message naming `token` ----------------------------------------


class Corpus:
    """Builds the cases of one run against one stack."""

    def __init__(self, ingest_url: str, run: str) -> None:
        self.ingest_url = ingest_url
        self.run = run
        self._n = itertools.count(1)
        self.cases: list[Case] = []

    def token(self) -> str:
        return f"{self.run}{next(self._n):05d}z"

    def n_of(self, token: str) -> int:
        return int(token[len(self.run) : -1])

    # payloads

    def payload(self, channel: str, token: str, text: str | None = None, **overrides: Any) -> dict[str, Any]:
        """The JSON payload a JSON channel posts for one text message."""
        text = f"hostile {token}" if text is None else text
        n = self.n_of(token)
        now = int(time.time())
        if channel == "whatsapp":
            message = {"from": f"97250{n:07d}", "id": f"wamid.{token}", "timestamp": str(now), "type": "text"}
            message |= {"text": {"body": text}} | overrides
            value = {
                "messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "15550001111", "phone_number_id": PHONE_NUMBER_ID},
                "contacts": [{"profile": {"name": "Hostile"}, "wa_id": message.get("from", "0")}],
                "messages": [message],
            }
            change = {"field": "messages", "value": value}
            return {"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [change]}]}
        if channel in ("messenger", "instagram"):
            account = _account(channel)
            event = {"sender": {"id": f"psid{token}"}, "recipient": {"id": account}, "timestamp": now * 1000}
            event |= {"message": {"mid": f"m_{token}", "text": text}} | overrides
            obj = "page" if channel == "messenger" else "instagram"
            return {"object": obj, "entry": [{"id": account, "time": now * 1000, "messaging": [event]}]}
        if channel == "line":
            user = "U" + hashlib.md5(token.encode()).hexdigest()
            event = {
                "type": "message",
                "mode": "active",
                "timestamp": now * 1000,
                "source": {"type": "user", "userId": user},
                "webhookEventId": f"01{token}",
                "deliveryContext": {"isRedelivery": False},
                "replyToken": secrets.token_hex(16),
                "message": {"id": token, "type": "text", "text": text, "quoteToken": "q" + token},
            } | overrides
            return {"destination": _account("line"), "events": [event]}
        if channel == "telegram":
            sender: dict[str, Any] = {"id": 10**9 + n, "is_bot": False, "first_name": "Hostile"}
            update: dict[str, Any] = {"message_id": n, "from": sender, "chat": {"id": 10**9 + n, "type": "private"}}
            return {"update_id": 10**8 + n, "message": update | {"date": now, "text": text} | overrides}
        if channel == "webchat":
            sent_at = datetime.now(UTC).isoformat()
            base = {"site_id": _account("webchat"), "visitor_id": f"v{token}", "message_id": token, "text": text}
            return base | {"sent_at": sent_at} | overrides
        raise KeyError(channel)

    def signed_json(self, channel: str, body: bytes, content_type: str = "application/json") -> dict[str, str]:
        """The headers that sign `body` on a JSON channel, correctly."""
        headers = {"content-type": content_type}
        if channel in ("whatsapp", "messenger", "instagram"):
            headers["x-hub-signature-256"] = meta_signature(body)
        elif channel == "line":
            headers["x-line-signature"] = line_signature(body)
        elif channel == "telegram":
            headers["x-telegram-bot-api-secret-token"] = TELEGRAM_SECRET_TOKEN
        elif channel == "webchat":
            stamp = str(int(time.time()))
            headers |= {"x-switchboard-timestamp": stamp, "x-switchboard-signature": webchat_signature(stamp, body)}
        return headers

    def twilio_params(self, token: str, text: str | None = None, **overrides: str) -> dict[str, str]:
        n = self.n_of(token)
        params = {
            "MessageSid": f"SM{token}",
            "SmsSid": f"SM{token}",
            "SmsStatus": "received",
            "AccountSid": "AC00000000000000000000000000000001",
            "From": f"+1555{n:07d}",
            "To": _account("twilio"),
            "Body": f"hostile {token}" if text is None else text,
            "NumMedia": "0",
            "ApiVersion": "2010-04-01",
        }
        return {k: v for k, v in (params | overrides).items() if v is not None}

    def signed_twilio(self, params: dict[str, str] | list[tuple[str, str]], body: bytes | None = None) -> Case:
        pairs = list(params.items()) if isinstance(params, dict) else params
        raw = body if body is not None else urlencode(pairs).encode()
        url = f"{self.ingest_url}/webhooks/twilio"
        headers = {
            "content-type": "application/x-www-form-urlencoded",
            "x-twilio-signature": twilio_signature(url, pairs),
        }
        return Case("", "", "ingest", "POST", "/webhooks/twilio", raw, headers)

    def mailgun_fields(self, token: str, text: str | None = None, **overrides: str | None) -> dict[str, str]:
        stamp, mg_token = str(int(time.time())), secrets.token_hex(25)
        headers = [["Message-Id", f"<{token}@customers.test>"], ["Subject", "Order 42"]]
        fields = {
            "recipient": _account("mailgun"),
            "sender": f"c{token}@customers.test",
            "from": f"Hostile <c{token}@customers.test>",
            "subject": "Order 42",
            "body-plain": f"hostile {token}" if text is None else text,
            "stripped-text": f"hostile {token}" if text is None else text,
            "message-headers": json.dumps(headers),
            "timestamp": stamp,
            "token": mg_token,
            "signature": mailgun_signature(stamp, mg_token),
        }
        merged = fields | {k.replace("_", "-"): v for k, v in overrides.items()}
        if ("timestamp" in overrides or "token" in overrides) and "signature" not in overrides:  # re-signed
            merged["signature"] = mailgun_signature(merged["timestamp"] or "", merged["token"] or "")
        return {k: v for k, v in merged.items() if v is not None}

    # adding cases

    def add(self, case: Case, category: str, name: str, *, expect: str = REFUSED, token: str = "", **more: Any) -> None:
        case.category, case.name, case.expect, case.token = category, name, expect, token
        for key, value in more.items():
            setattr(case, key, value)
        self.cases.append(case)

    def post_json(
        self,
        category: str,
        name: str,
        channel: str,
        body: bytes,
        *,
        token: str,
        expect: str = REFUSED,
        headers: dict[str, str] | None = None,
        **more: Any,
    ) -> None:
        signed = headers if headers is not None else self.signed_json(channel, body)
        self.add(
            Case("", "", "ingest", "POST", f"/webhooks/{channel}", body, signed),
            category,
            f"{channel} {name}",
            expect=expect,
            token=token,
            **more,
        )

    def post_form(self, category: str, name: str, channel: str, fields: dict[str, str], **more: Any) -> None:
        if channel == "twilio":
            case = self.signed_twilio(fields)
        else:
            body = urlencode(fields).encode()
            case = Case("", "", "ingest", "POST", "/webhooks/mailgun", body, {"content-type": FORM})
        self.add(case, category, f"{channel} {name}", **more)


FORM = "application/x-www-form-urlencoded"


def webhook_corpus(ingest_url: str, run: str) -> Corpus:
    """Every hostile request for ingest's webhooks."""
    corpus = Corpus(ingest_url, run)
    _malformed(corpus)
    _content_types(corpus)
    _body_limits(corpus)
    _deep_nesting(corpus)
    _unicode(corpus)
    _nul_and_controls(corpus)
    _lone_surrogates(corpus)
    _signatures(corpus)
    _replays(corpus)
    _out_of_range(corpus)
    _unknown_paths(corpus)
    return corpus


def _malformed(c: Corpus) -> None:
    cat = "malformed"
    for channel in JSON_CHANNELS:
        token = c.token()
        valid = dumps(c.payload(channel, token))
        bodies = {
            "empty": b"",
            "open-brace": b"{",
            "truncated": valid[: len(valid) // 2],
            "truncated-last-byte": valid[:-1],
            "array": b"[]",
            "null": b"null",
            "string": b'"' + token.encode() + b'"',
            "number": b"42",
            "trailing-garbage": valid + b"}}",
            "not-utf8": valid.replace(token.encode(), token.encode() + b"\xff\xfe"),
            "nan-literal": valid.replace(b'"hostile ', b'NaN, "x": "', 1),
            "single-quotes": valid.replace(b'"', b"'"),
            "wrong-shape": dumps({"entry": token, "events": token, "messages": token, "message": token}),
        }
        for name, body in bodies.items():
            c.post_json(cat, name, channel, body, token=token, statuses=(400, 401))
    for name, params in _table(
        {
            "no-from": {"From": None},
            "no-to": {"To": None},
            "no-sid": {"MessageSid": None},
            "num-media-not-a-number": {"NumMedia": "many"},
            "num-media-huge": {"NumMedia": "99999999999999999999"},
            "media-url-missing": {"NumMedia": "3"},
            "location-not-numbers": {"MessageType": "location", "Latitude": "north", "Longitude": "x"},
        }
    ):
        token = c.token()
        c.post_form(cat, name, "twilio", c.twilio_params(token, **params), token=token)
    for name, raw in _table(
        {
            "percent-garbage": b"Body=%ZZ%&From=%",
            "not-utf8": b"Body=%FF%FE&From=%2B1555",
            "raw-bytes": b"\x00\x01\x02\xff",
            "only-separators": b"&&&===&&",
        }
    ):
        token = c.token()
        params = [(k, v) for k, v in parse_qsl(raw.decode("latin-1"), keep_blank_values=True)]
        case = c.signed_twilio(params, body=raw + f"&Token={token}".encode())
        c.add(case, cat, f"twilio {name}", token=token)
    for name, overrides in _table(
        {
            "no-recipient": {"recipient": None},
            "recipient-not-an-address": {"recipient": "nobody"},
            "no-sender": {"from": "nobody", "sender": "nobody"},
            "headers-not-json": {"message_headers": "[[not json"},
            "headers-not-pairs": {"message_headers": '{"Message-Id": 1}'},
            "headers-deep": {"message_headers": nested(5000)},
        }
    ):
        token = c.token()
        c.post_form(cat, name, "mailgun", c.mailgun_fields(token, **overrides), token=token)
    for name, (content_type, body) in _table(
        {
            "multipart-no-boundary": ("multipart/form-data", b"--x\r\n\r\n--x--"),
            "multipart-truncated": (
                "multipart/form-data; boundary=b",
                b'--b\r\nContent-Disposition: form-data; name="a',
            ),
            "multipart-no-parts": ("multipart/form-data; boundary=b", b"nothing here"),
            "event-not-json": ("application/json", b'{"signature": {"timestamp": '),
            "event-no-signature": ("application/json", b'{"event-data": {}}'),
            "event-signature-not-object": ("application/json", b'{"signature": "x"}'),
        }
    ):
        token = c.token()
        case = Case(
            "", "", "ingest", "POST", "/webhooks/mailgun", body + token.encode(), {"content-type": content_type}
        )
        c.add(case, cat, f"mailgun {name}", token=token)
    # A signed event webhook whose event-data is wrong.
    for name, data in _table(
        {
            "event-data-missing": None,
            "event-data-not-object": "x",
            "event-timestamp-text": {"event": "delivered", "timestamp": "yesterday"},
        }
    ):
        token, stamp, mg = c.token(), str(int(time.time())), secrets.token_hex(25)
        signature = {"timestamp": stamp, "token": mg, "signature": mailgun_signature(stamp, mg)}
        body = dumps({"signature": signature, "token-for-test": token} | ({} if data is None else {"event-data": data}))
        case = Case("", "", "ingest", "POST", "/webhooks/mailgun", body, {"content-type": "application/json"})
        c.add(case, cat, f"mailgun {name}", token=token)


def _content_types(c: Corpus) -> None:
    cat = "content_type"
    for channel in JSON_CHANNELS:
        for content_type in ("text/plain", "application/xml", "multipart/form-data", FORM, ""):
            token = c.token()
            body = dumps(c.payload(channel, token))
            # A JSON channel reads the JSON it is signed for whatever the label says: accepting it is right too.
            c.post_json(
                cat,
                f"as {content_type or 'none'}",
                channel,
                body,
                token=token,
                expect=EITHER,
                headers=c.signed_json(channel, body, content_type),
            )
    for content_type in ("application/json", "text/plain", "multipart/form-data; boundary=x", ""):
        token = c.token()
        case = c.signed_twilio(c.twilio_params(token))
        case.headers["content-type"] = content_type
        c.add(case, cat, f"twilio as {content_type or 'none'}", token=token, expect=EITHER)
    for content_type in ("text/plain", "application/xml", "application/octet-stream", ""):
        token = c.token()
        body = urlencode(c.mailgun_fields(token)).encode()
        case = Case("", "", "ingest", "POST", "/webhooks/mailgun", body, {"content-type": content_type})
        c.add(case, cat, f"mailgun as {content_type or 'none'}", token=token, statuses=(401,))
    token = c.token()
    body = dumps({"fields": c.mailgun_fields(token)})
    case = Case("", "", "ingest", "POST", "/webhooks/mailgun", body, {"content-type": "application/json"})
    c.add(case, cat, "mailgun form fields as json", token=token, statuses=(401,))


def _body_limits(c: Corpus) -> None:
    cat = "body_limits"
    for channel in CHANNELS:
        token = c.token()
        big = token.encode() + b"x" * (MAX_BODY + 1)
        headers = {"content-type": "application/json" if channel in JSON_CHANNELS else FORM}
        case = Case("", "", "ingest", "POST", f"/webhooks/{channel}", big, dict(headers))
        c.add(case, cat, f"{channel} over the limit, declared", token=token, statuses=(413,))
        token = c.token()
        case = Case("", "", "ingest", "POST", f"/webhooks/{channel}", token.encode() + b"y" * (MAX_BODY + 1), headers)
        c.add(case, cat, f"{channel} over the limit, chunked", token=token, chunked=True, statuses=(413,))
        token = c.token()
        case = Case("", "", "ingest", "POST", f"/webhooks/{channel}", b'{"' + token.encode(), dict(headers))
        c.add(case, cat, f"{channel} declared 1000 bytes, sent 12", token=token, declared_length=1000)
        token = c.token()
        case = Case("", "", "ingest", "POST", f"/webhooks/{channel}", token.encode(), dict(headers))
        c.add(case, cat, f"{channel} declared 2 GiB", token=token, declared_length=2**31, statuses=(413,))
    # Just under the limit, signed: read, then refused for what it is (a payload the schema bounds).
    token = c.token()
    payload = c.payload("webchat", token, text="w" * (MAX_BODY - 1000))
    c.post_json(cat, "just under the limit with a 1 MB text", "webchat", dumps(payload), token=token, statuses=(400,))


def _deep_nesting(c: Corpus) -> None:
    cat = "deep_nesting"
    for channel in JSON_CHANNELS:
        for depth, kind in ((1000, "list"), (100_000, "list"), (50_000, "object")):
            token = c.token()
            body = ('{"t": "' + token + '", "deep": ' + nested(depth, kind) + "}").encode()
            c.post_json(cat, f"{depth} levels of {kind}", channel, body, token=token, statuses=(400, 401))
        token = c.token()
        payload = c.payload(channel, token)
        text = json.dumps(payload).replace(f'"hostile {token}"', nested(20_000), 1)
        c.post_json(cat, "text field nested 20000 deep", channel, text.encode(), token=token, statuses=(400, 401))
    for channel in ("twilio", "mailgun"):
        token = c.token()
        if channel == "twilio":
            case = c.signed_twilio(c.twilio_params(token, Body=nested(100_000)))
            c.add(case, cat, "twilio Body of 100000 brackets", token=token, expect=EITHER)
        else:
            c.post_form(
                cat,
                "headers nested 100000",
                "mailgun",
                c.mailgun_fields(token, message_headers=nested(100_000)),
                token=token,
            )


UNICODE_TEXTS = {
    "emoji-zwj": "family \U0001f468\u200d\U0001f469\u200d\U0001f467 flag \U0001f3f3\ufe0f\u200d\U0001f308",
    "rtl-override": "\u202eevil\u202c \u05e9\u05dc\u05d5\u05dd \u0645\u0631\u062d\u0628\u0627",
    "zero-width": "zero\u200bwidth\u200c\u200d\u2060joiners\ufeff",
    "combining": "e\u0301\u0302\u0303\u0304 Z\u0351\u0352\u0353\u0354\u0355\u0356\u0357",
    "nfd-vs-nfc": "cafe\u0301 caf\u00e9",
    "astral": "\U00010348 \U0001d11e \U0002a6d6 \U000e0041",
    "noncharacters": "\ufffe\uffff\U0010ffff",
    "line-separators": "a\u2028b\u2029c\u0085d",
    "private-use": "\ue000\uf8ff\U000f0000",
}


def _unicode(c: Corpus) -> None:
    cat = "unicode"
    for channel in CHANNELS:
        for name, text in UNICODE_TEXTS.items():
            if channel in ("twilio", "mailgun") and name not in ("emoji-zwj", "rtl-override", "combining"):
                continue
            token = c.token()
            written = f"{text} {token}"
            _post_text(c, cat, name, channel, token, written, expect=ACCEPTED, stored_text=written.strip())
    # Percent-encoded overlong UTF-8 ("/" as 0xC0 0xAF) is not UTF-8: refused, not decoded.
    token = c.token()
    case = c.signed_twilio(c.twilio_params(token), body=urlencode(c.twilio_params(token)).encode() + b"&X=%C0%AF")
    c.add(case, cat, "twilio overlong utf-8", token=token, statuses=(400, 401))


def _post_text(c: Corpus, cat: str, name: str, channel: str, token: str, text: str, **more: Any) -> None:
    if channel in JSON_CHANNELS:
        c.post_json(cat, name, channel, dumps(c.payload(channel, token, text=text)), token=token, **more)
    elif channel == "twilio":
        c.post_form(cat, name, "twilio", c.twilio_params(token, text=text), token=token, **more)
    else:
        c.post_form(cat, name, "mailgun", c.mailgun_fields(token, text=text), token=token, **more)


def _nul_and_controls(c: Corpus) -> None:
    cat = "nul_control"
    for channel in CHANNELS:
        token = c.token()
        _post_text(
            c,
            cat,
            "nul in text",
            channel,
            token,
            f"hello\u0000world {token}",
            expect=ACCEPTED,
            stored_text=f"helloworld {token}",
        )
        token = c.token()
        _post_text(
            c,
            cat,
            "only nuls and the token",
            channel,
            token,
            f"\u0000\u0000{token}\u0000",
            expect=ACCEPTED,
            stored_text=token,
        )
        token = c.token()
        controls = "".join(chr(n) for n in range(1, 32) if chr(n) not in "\t\n\r") + "\x7f"
        _post_text(
            c,
            cat,
            "c0 controls and del",
            channel,
            token,
            f"ctl{controls}{token}",
            expect=ACCEPTED,
            stored_text=f"ctl{controls}{token}",
        )
    # A NUL in an id: cleaned like text (the id without it), not a wedge.
    for channel, overrides in (
        ("whatsapp", {"id": "wamid.nul\u0000{t}"}),
        ("webchat", {"visitor_id": "v\u0000{t}", "message_id": "m\u0000{t}"}),
        ("line", {"message": {"id": "{t}\u0000", "type": "text", "text": "nul id {t}"}}),
    ):
        token = c.token()
        filled = json.loads(json.dumps(overrides).replace("{t}", token))
        c.post_json(
            cat, "nul in an id", channel, dumps(c.payload(channel, token, **filled)), token=token, expect=ACCEPTED
        )
    token = c.token()
    c.post_form(
        cat, "nul in sid", "twilio", c.twilio_params(token, MessageSid=f"SM\u0000{token}"), token=token, expect=ACCEPTED
    )


def _lone_surrogates(c: Corpus) -> None:
    cat = "lone_surrogates"
    for channel in JSON_CHANNELS:
        for name, escaped in (("high", "\\ud800"), ("low", "\\udfff"), ("reversed pair", "\\ude00\\ud83d")):
            token = c.token()
            body = dumps(c.payload(channel, token, text=f"SURROGATE {token}")).replace(b"SURROGATE", escaped.encode())
            # JSON parsers refuse a lone surrogate; cleaned to U+FFFD would be right too.
            c.post_json(cat, f"{name} escaped in text", channel, body, token=token, expect=EITHER)
        token = c.token()
        body = dumps(c.payload(channel, token)).replace(token.encode(), token.encode() + b"\\ud800", 1)
        c.post_json(cat, "lone surrogate escaped in an id", channel, body, token=token, expect=EITHER)
    token = c.token()
    raw = urlencode(c.twilio_params(token)).encode() + b"&Body=%ED%A0%80"  # a surrogate encoded as UTF-8
    c.add(
        c.signed_twilio(c.twilio_params(token), body=raw),
        cat,
        "twilio surrogate as utf-8",
        token=token,
        statuses=(400, 401),
    )
    # A multipart file name in raw bytes that are not UTF-8 reads as surrogate escapes: cleaned, then accepted.
    token = c.token()
    fields = c.mailgun_fields(token)
    boundary = "hostile" + token
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="attachment-1"; filename="'.encode()
        + b"\xff\xfe\xed\xa0\x80.pdf"
        + b'"\r\nContent-Type: application/pdf\r\n\r\n%PDF-1.4\r\n'
    )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
    c.add(
        Case("", "", "ingest", "POST", "/webhooks/mailgun", body, headers),
        cat,
        "mailgun file name not utf-8",
        token=token,
        expect=EITHER,
    )


def _signatures(c: Corpus) -> None:
    cat = "signature"
    for channel in ("whatsapp", "messenger", "instagram"):
        for name, change in _table(
            {
                "missing": lambda h, b: {k: v for k, v in h.items() if k != "x-hub-signature-256"},
                "empty": lambda h, b: h | {"x-hub-signature-256": ""},
                "sha1 scheme": lambda h, b: (
                    h | {"x-hub-signature-256": "sha1=" + hmac.new(APP_SECRET.encode(), b, hashlib.sha1).hexdigest()}
                ),
                "upper-case hex": lambda h, b: h | {"x-hub-signature-256": h["x-hub-signature-256"].upper()},
                "upper-case prefix": lambda h, b: h | {"x-hub-signature-256": "SHA256=" + h["x-hub-signature-256"][7:]},
                "no prefix": lambda h, b: h | {"x-hub-signature-256": h["x-hub-signature-256"][7:]},
                "truncated": lambda h, b: h | {"x-hub-signature-256": h["x-hub-signature-256"][:-2]},
                "for another body": lambda h, b: h | {"x-hub-signature-256": meta_signature(b + b" ")},
                "another key": lambda h, b: h | {"x-hub-signature-256": meta_signature(b, "not-the-secret")},
                "empty key": lambda h, b: h | {"x-hub-signature-256": meta_signature(b, "")},
                "space inside": lambda h, b: h | {"x-hub-signature-256": "sha256= " + h["x-hub-signature-256"][7:]},
            }
        ):
            token = c.token()
            body = dumps(c.payload(channel, token))
            c.post_json(
                cat,
                name,
                channel,
                body,
                token=token,
                headers=change(c.signed_json(channel, body), body),
                statuses=(401,),
            )
    for name, change in _table(
        {
            "missing": lambda h, b: {k: v for k, v in h.items() if k != "x-line-signature"},
            "empty": lambda h, b: h | {"x-line-signature": ""},
            "hex instead of base64": lambda h, b: (
                h | {"x-line-signature": hmac.new(LINE_CHANNEL_SECRET.encode(), b, hashlib.sha256).hexdigest()}
            ),
            "truncated": lambda h, b: h | {"x-line-signature": h["x-line-signature"][:-4]},
            "for another body": lambda h, b: h | {"x-line-signature": line_signature(b + b"\n")},
            "another key": lambda h, b: h | {"x-line-signature": line_signature(b, "other")},
            "lower-cased": lambda h, b: h | {"x-line-signature": h["x-line-signature"].lower()},
        }
    ):
        token = c.token()
        body = dumps(c.payload("line", token))
        c.post_json(
            cat, name, "line", body, token=token, headers=change(c.signed_json("line", body), body), statuses=(401,)
        )
    for name, value in _table(
        {
            "missing": None,
            "empty": "",
            "wrong": "not-the-token",
            "upper-case": TELEGRAM_SECRET_TOKEN.upper(),
            "truncated": TELEGRAM_SECRET_TOKEN[:-1],
            "with a suffix": TELEGRAM_SECRET_TOKEN + "x",
            "space inside": TELEGRAM_SECRET_TOKEN[:4] + " " + TELEGRAM_SECRET_TOKEN[4:],
        }
    ):
        token = c.token()
        body = dumps(c.payload("telegram", token))
        headers = {"content-type": "application/json"} | (
            {} if value is None else {"x-telegram-bot-api-secret-token": value}
        )
        c.post_json(cat, name, "telegram", body, token=token, headers=headers, statuses=(401,))
    for name, change in _table(
        {
            "missing signature": lambda h, b: {k: v for k, v in h.items() if k != "x-switchboard-signature"},
            "missing timestamp": lambda h, b: {k: v for k, v in h.items() if k != "x-switchboard-timestamp"},
            "empty": lambda h, b: h | {"x-switchboard-signature": ""},
            "wrong scheme": lambda h, b: h | {"x-switchboard-signature": "sha1=" + h["x-switchboard-signature"][7:]},
            "upper-case": lambda h, b: h | {"x-switchboard-signature": h["x-switchboard-signature"].upper()},
            "truncated": lambda h, b: h | {"x-switchboard-signature": h["x-switchboard-signature"][:-1]},
            "for another body": lambda h, b: (
                h | {"x-switchboard-signature": webchat_signature(h["x-switchboard-timestamp"], b + b" ")}
            ),
            "timestamp not signed": lambda h, b: (
                h | {"x-switchboard-timestamp": str(int(h["x-switchboard-timestamp"]) + 1)}
            ),
            "timestamp not digits": lambda h, b: h | {"x-switchboard-timestamp": "1e9"},
            "timestamp huge": lambda h, b: h | {"x-switchboard-timestamp": "9" * 400},
        }
    ):
        token = c.token()
        body = dumps(c.payload("webchat", token))
        c.post_json(
            cat,
            name,
            "webchat",
            body,
            token=token,
            headers=change(c.signed_json("webchat", body), body),
            statuses=(401,),
        )
    url = f"{c.ingest_url}/webhooks/twilio"
    for name, change in _table(
        {
            "missing": lambda p, h: {k: v for k, v in h.items() if k != "x-twilio-signature"},
            "empty": lambda p, h: h | {"x-twilio-signature": ""},
            "another token": lambda p, h: h | {"x-twilio-signature": twilio_signature(url, p, "other")},
            "another url": lambda p, h: h | {"x-twilio-signature": twilio_signature(url + "?x=1", p)},
            "truncated": lambda p, h: h | {"x-twilio-signature": h["x-twilio-signature"][:-2]},
            "lower-cased": lambda p, h: h | {"x-twilio-signature": h["x-twilio-signature"].lower()},
            "for other params": lambda p, h: h | {"x-twilio-signature": twilio_signature(url, [*p, ("X", "1")])},
        }
    ):
        token = c.token()
        params = c.twilio_params(token)
        case = c.signed_twilio(params)
        case.headers = change(list(params.items()), case.headers)
        c.add(case, cat, f"twilio {name}", token=token, statuses=(401,))
    for name, overrides in _table(
        {
            "missing": {"signature": None},
            "empty": {"signature": ""},
            "upper-case": {"signature": "UPPER"},
            "truncated": {"signature": "TRUNC"},
            "another key": {"signature": "OTHERKEY"},
            "for another token": {"signature": "OTHERTOKEN"},
            "missing token": {"token": None, "signature": "KEEP"},
            "missing timestamp": {"timestamp": None, "signature": "KEEP"},
        }
    ):
        token = c.token()
        fields = c.mailgun_fields(token)
        good = fields["signature"]
        chosen = overrides.get("signature", "KEEP")
        signature = {
            "UPPER": good.upper(),
            "TRUNC": good[:-1],
            "OTHERKEY": mailgun_signature(fields["timestamp"], fields["token"], "other"),
            "OTHERTOKEN": mailgun_signature(fields["timestamp"], secrets.token_hex(25)),
            "KEEP": good,
        }.get(chosen or "", chosen)
        fields = {
            k: v
            for k, v in (fields | {k: v for k, v in overrides.items() if k != "signature"}).items()
            if v is not None
        }
        if signature is not None:
            fields["signature"] = signature
        else:
            fields.pop("signature", None)
        c.post_form(cat, name, "mailgun", fields, token=token, statuses=(401,))


def _replays(c: Corpus) -> None:
    cat = "replay"
    now = int(time.time())
    for name, stamp in _table(
        {
            "5 minutes old": now - 301,
            "a day old": now - 86400,
            "epoch": 0,
            "future": now + 3600,
            "year 3000": 32503680000,
        }
    ):
        token = c.token()
        c.post_form(
            cat,
            f"timestamp {name}",
            "mailgun",
            c.mailgun_fields(token, timestamp=str(stamp)),
            token=token,
            statuses=(401,),
        )
        token = c.token()
        body = dumps(c.payload("webchat", token))
        headers = {
            "content-type": "application/json",
            "x-switchboard-timestamp": str(stamp),
            "x-switchboard-signature": webchat_signature(str(stamp), body),
        }
        c.post_json(cat, f"timestamp {name}", "webchat", body, token=token, headers=headers, statuses=(401,))
    # The same signed forward twice: the first is the email, the second a replay of its token.
    token = c.token()
    fields = c.mailgun_fields(token)
    # Ordered: sent concurrently with the rest, the replay could arrive first and take the token itself.
    c.post_form(cat, "first use of a token", "mailgun", fields, token=token, expect=ACCEPTED, ordered=True)
    again = fields | {"message-headers": json.dumps([["Message-Id", f"<replay{token}@customers.test>"]])}
    replay_token = c.token()
    again["body-plain"] = again["stripped-text"] = f"replayed {replay_token}"
    c.post_form(cat, "reused token, another body", "mailgun", again, token=replay_token, statuses=(401,), ordered=True)


def _out_of_range(c: Corpus) -> None:
    cat = "out_of_range"
    megabyte = "m" * 1_000_000
    numbers: dict[str, Any] = {
        "10**30": 10**30,
        "negative": -1,
        "-10**30": -(10**30),
        "float": 1.5,
        "1e308": 1e308,
        "2**63": 2**63,
        "zero": 0,
    }
    for name, value in numbers.items():
        token = c.token()
        c.post_json(
            cat,
            f"timestamp {name}",
            "whatsapp",
            dumps(c.payload("whatsapp", token, timestamp=str(value))),
            token=token,
            expect=EITHER,
        )
        for channel in ("messenger", "instagram"):
            token = c.token()
            payload = c.payload(channel, token)
            payload["entry"][0]["messaging"][0]["timestamp"] = value
            c.post_json(cat, f"timestamp {name}", channel, dumps(payload), token=token, expect=EITHER)
        token = c.token()
        c.post_json(
            cat,
            f"timestamp {name}",
            "line",
            dumps(c.payload("line", token, timestamp=value)),
            token=token,
            expect=EITHER,
        )
        token = c.token()
        c.post_json(
            cat, f"date {name}", "telegram", dumps(c.payload("telegram", token, date=value)), token=token, expect=EITHER
        )
        token = c.token()
        c.post_json(
            cat,
            f"ids {name}",
            "telegram",
            dumps(c.payload("telegram", token, message_id=value, chat={"id": value, "type": "private"})),
            token=token,
            expect=EITHER,
        )
        token = c.token()
        c.post_form(
            cat,
            f"timestamp {name}",
            "mailgun",
            c.mailgun_fields(token, timestamp=str(value)),
            token=token,
            statuses=(401,),
        )
    for name, stamp in _table(
        {
            "year 9999": "9999-12-31T23:59:59+00:00",
            "year 1 east of utc": "0001-01-01T00:00:00+01:00",
            "year 10000": "10000-01-01T00:00:00Z",
            "no offset": "2026-01-01T00:00:00",
            "not a date": "yesterday",
            "1969": "1969-07-20T20:17:00Z",
        }
    ):
        token = c.token()
        c.post_json(
            cat,
            f"sent_at {name}",
            "webchat",
            dumps(c.payload("webchat", token, sent_at=stamp)),
            token=token,
            statuses=(400,),
        )
    # A megabyte in one field, for every channel: the field bounds refuse it (400), never a 500 or a wedge.
    for channel in JSON_CHANNELS:
        token = c.token()
        c.post_json(
            cat,
            "1 MB text",
            channel,
            dumps(c.payload(channel, token, text=f"{token} {megabyte}")),
            token=token,
            statuses=(400,),
        )
    for channel, overrides in (
        ("whatsapp", {"id": f"wamid.{megabyte}"}),
        ("whatsapp", {"from": "9" * 100_000}),
        ("messenger", {"sender": {"id": megabyte}}),
        ("instagram", {"message": {"mid": megabyte, "text": "x"}}),
        ("line", {"source": {"type": "user", "userId": megabyte}}),
        ("telegram", {"from": {"id": 1, "is_bot": False, "first_name": megabyte}}),
        ("webchat", {"visitor_name": megabyte}),
        ("webchat", {"attachments": [{"kind": "image", "url": "https://x.test/" + megabyte}]}),
    ):
        token = c.token()
        c.post_json(
            cat,
            f"1 MB in {next(iter(overrides))}",
            channel,
            dumps(c.payload(channel, token, **overrides)),
            token=token,
            statuses=(400,),
        )
    token = c.token()
    c.post_form(
        cat, "1 MB body", "twilio", c.twilio_params(token, text=f"{token}{'b' * 900_000}"), token=token, statuses=(400,)
    )
    token = c.token()
    c.post_form(
        cat,
        "control characters that grow six-fold in JSON",
        "twilio",
        c.twilio_params(token, text=f"{token}" + "\x01" * 300_000),
        token=token,
        statuses=(400,),
    )
    token = c.token()
    c.post_form(
        cat,
        "1 MB sid",
        "twilio",
        c.twilio_params(token, MessageSid="SM" + token + "s" * 700_000),
        token=token,
        statuses=(400,),
    )
    token = c.token()
    c.post_form(
        cat,
        "1 MB message id",
        "mailgun",
        c.mailgun_fields(token, message_headers=json.dumps([["Message-Id", f"<{token}{'i' * 600_000}>"]])),
        token=token,
        statuses=(400,),
    )
    token = c.token()
    c.post_form(
        cat, "1 MB subject", "mailgun", c.mailgun_fields(token, subject="s" * 700_000), token=token, statuses=(400,)
    )
    token = c.token()
    c.post_form(
        cat,
        "twilio 1000 parameters",
        "twilio",
        c.twilio_params(token) | {f"P{n}": "1" for n in range(1000)},
        token=token,
        statuses=(400, 401),
    )


def _unknown_paths(c: Corpus) -> None:
    cat = "unknown_paths"
    for name in (
        f"zz{c.run}",
        f"whatsapp{c.run}",
        "WhatsApp",
        "whatsapp ",
        "x" * 4000,
        "..%2F..%2Fmetrics",
        "%00",
        "%F0%9F%98%80",
        "sms",
        "viber",
        "wechat",
        "sendgrid",
        "webchat.json",
        "Telegram",
        "LINE",
    ):
        token = c.token()
        path = f"/webhooks/{name}"
        case = Case("", "", "ingest", "POST", path, dumps({"t": token}), {"content-type": "application/json"})
        c.add(case, cat, f"POST unknown channel {name[:40]!r}", token=token, statuses=(404,))
    for channel in ("twilio", "line", "telegram", "mailgun", "webchat", f"yy{c.run}"):
        c.add(
            Case(
                "",
                "",
                "ingest",
                "GET",
                f"/webhooks/{channel}?hub.mode=subscribe&hub.challenge=1&hub.verify_token={VERIFY_TOKEN}",
            ),
            cat,
            f"GET handshake on {channel}",
            statuses=(404,),
        )
    for channel in ("whatsapp", "messenger", "instagram"):
        for name, query in _table(
            {
                "wrong token": f"hub.mode=subscribe&hub.challenge=1&hub.verify_token={VERIFY_TOKEN}x",
                "no token": "hub.mode=subscribe&hub.challenge=1",
                "empty token": "hub.mode=subscribe&hub.challenge=1&hub.verify_token=",
                "wrong mode": f"hub.mode=unsubscribe&hub.challenge=1&hub.verify_token={VERIFY_TOKEN}",
                "nothing": "",
            }
        ):
            c.add(
                Case("", "", "ingest", "GET", f"/webhooks/{channel}?{query}"),
                cat,
                f"{channel} handshake {name}",
                statuses=(403,),
            )
        challenge = "1158201444" + c.run
        c.add(
            Case(
                "",
                "",
                "ingest",
                "GET",
                f"/webhooks/{channel}?hub.mode=subscribe&hub.challenge={challenge}"
                f"&hub.verify_token={quote(VERIFY_TOKEN)}",
            ),
            cat,
            f"{channel} handshake",
            expect=HANDSHAKE,
            token=challenge,
        )
        for method in ("PUT", "DELETE", "PATCH"):
            c.add(
                Case("", "", "ingest", method, f"/webhooks/{channel}", b"{}"),
                cat,
                f"{method} {channel}",
                statuses=(405,),
            )
    for path in (
        "/",
        "/webhooks",
        "/webhooks/",
        "/webhooks/whatsapp/extra",
        f"/admin{c.run}",
        "/v1/agents",
        "/metrics/../healthz",
        "/%2e%2e/etc/passwd",
        "/webhooks/whatsapp%00",
    ):
        c.add(
            Case("", "", "ingest", "POST", path, b"{}", {"content-type": "application/json"}),
            cat,
            f"POST {path[:40]}",
            statuses=(404, 405),
        )


# The router's /v1 API ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # with {agent}, {conversation}, {contact}, {id}, {account} placeholders
    who: str  # "admin", "self" (the agent or admin), "assignee", "any" (any valid token)
    body: Any = None


ENDPOINTS = (
    Endpoint("POST", "/v1/agents", "admin", {"name": "Hostile"}),
    Endpoint("GET", "/v1/agents", "admin"),
    Endpoint("GET", "/v1/accounts", "admin"),
    Endpoint("GET", "/v1/agents/{agent}", "self"),
    Endpoint("PUT", "/v1/agents/{agent}/presence", "self", {"status": "online"}),
    Endpoint("POST", "/v1/agents/{agent}/heartbeat", "self"),
    Endpoint("POST", "/v1/agents/{agent}/token", "admin"),
    Endpoint("DELETE", "/v1/agents/{agent}/token", "admin"),
    Endpoint("GET", "/v1/agents/{agent}/conversations", "self"),
    Endpoint("GET", "/v1/agents/{agent}/events", "self"),
    Endpoint("GET", "/v1/conversations", "admin"),
    Endpoint("GET", "/v1/conversations/{conversation}", "assignee"),
    Endpoint("POST", "/v1/conversations/{conversation}/messages", "assignee", {"text": "hi"}),
    Endpoint("POST", "/v1/conversations/{conversation}/resolve", "assignee"),
    Endpoint("POST", "/v1/conversations/{conversation}/transfer", "assignee", {"to": "queue"}),
    Endpoint("POST", "/v1/conversations/{conversation}/notes", "assignee", {"text": "note"}),
    Endpoint("GET", "/v1/contacts?channel=whatsapp&external_id=15550000000", "admin"),
    Endpoint("GET", "/v1/contacts/{contact}", "admin"),
    Endpoint("PUT", "/v1/contacts/{contact}/attributes", "admin", {"tier": "gold"}),
    Endpoint("POST", "/v1/crm/contacts", "admin", {"channel": "whatsapp", "external_id": "15550000000"}),
    Endpoint("POST", "/v1/contacts/{contact}/identities", "admin", {"channel": "telegram", "external_id": "1"}),
    Endpoint(
        "POST", "/v1/contacts/{contact}/merge", "admin", {"from_contact_id": "00000000-0000-0000-0000-000000000000"}
    ),
    Endpoint("POST", "/v1/quick-replies", "admin", {"shortcut": "/hostile", "text": "x"}),
    Endpoint("GET", "/v1/quick-replies", "any"),
    Endpoint("DELETE", "/v1/quick-replies/{id}", "admin"),
    Endpoint("GET", "/v1/automation", "admin"),
    Endpoint("PUT", "/v1/automation", "admin", {"enabled": False}),
    Endpoint("GET", "/v1/intents", "admin"),
    Endpoint("POST", "/v1/intents", "admin", {"intent": "hostile"}),
    Endpoint("DELETE", "/v1/intents/{id}", "admin"),
    Endpoint("PUT", "/v1/schedules/{account}", "admin", {"schedule": {}}),
    Endpoint("GET", "/v1/schedules", "admin"),
    Endpoint("DELETE", "/v1/schedules/{account}", "admin"),
)

WRONG_CREDENTIALS = {
    "no authorization": None,
    "empty": "",
    "bearer without token": "Bearer",
    "basic scheme": "Basic " + base64.b64encode(f"admin:{ADMIN_TOKEN}".encode()).decode(),
    "admin token without scheme": ADMIN_TOKEN,
    "token scheme": f"Token {ADMIN_TOKEN}",
    "wrong token": "Bearer sbat_not-a-token",
    "admin token with a suffix": f"Bearer {ADMIN_TOKEN}x",
    "admin token upper-cased": f"Bearer {ADMIN_TOKEN.upper()}",
    "8 KB token": "Bearer " + "a" * 8000,
    "two tokens": f"Bearer sbat_x Bearer {ADMIN_TOKEN}",
}


def fill(path: str, ids: dict[str, str]) -> str:
    for name, value in ids.items():
        path = path.replace("{" + name + "}", value)
    return path


def router_corpus(run: str, agent_token: str, ids: dict[str, str]) -> Corpus:
    """Every /v1 call without and with wrong credentials, then bad admin input with the admin's token."""
    corpus = Corpus("", run)
    random_ids = {
        "agent": str(uuid4()),
        "conversation": str(uuid4()),
        "contact": str(uuid4()),
        "id": str(uuid4()),
        "account": f"acct{run}",
    }
    for endpoint in ENDPOINTS:
        body = None if endpoint.body is None else dumps(endpoint.body)
        for name, value in WRONG_CREDENTIALS.items():
            headers = {"content-type": "application/json"} | ({} if value is None else {"authorization": value})
            case = Case("", "", "router", endpoint.method, fill(endpoint.path, random_ids), body, headers)
            corpus.add(case, "v1_credentials", f"{endpoint.method} {endpoint.path} {name}", statuses=(401,))
        if endpoint.who in ("admin", "self"):
            # An agent's own token, on an admin call or on another agent.
            headers = {"content-type": "application/json", "authorization": f"Bearer {agent_token}"}
            case = Case("", "", "router", endpoint.method, fill(endpoint.path, random_ids), body, headers)
            corpus.add(case, "v1_credentials", f"{endpoint.method} {endpoint.path} agent token", statuses=(403,))
    _bad_admin_input(corpus, ids)
    _router_paths(corpus)
    return corpus


def _bad_admin_input(c: Corpus, ids: dict[str, str]) -> None:
    cat = "bad_admin_input"
    admin = {"content-type": "application/json", "authorization": f"Bearer {ADMIN_TOKEN}"}
    megabyte = "m" * 1_000_000

    def call(method: str, path: str, body: bytes | None, name: str, expect: str = REFUSED, **more: Any) -> None:
        token = c.token()
        raw = None if body is None else body.replace(b"TOKEN", token.encode())
        c.add(
            Case("", "", "router", method, fill(path, ids).replace("TOKEN", token), raw, dict(admin)),
            cat,
            name,
            expect=expect,
            token=token,
            **more,
        )

    malformed = {
        "empty body": b"",
        "truncated json": b'{"name": "TOKEN',
        "array": b'["TOKEN"]',
        "null": b"null",
        "not utf-8": b'{"name": "TOKEN\xff"}',
        "nesting 100000": b'{"name": "TOKEN", "x": ' + nested(100_000).encode() + b"}",
        "nesting 50000 objects": b'{"name": "TOKEN", "x": ' + nested(50_000, "object").encode() + b"}",
    }
    for endpoint in ENDPOINTS:
        if endpoint.body is None or endpoint.who not in ("admin", "self"):
            continue
        for name, body in malformed.items():
            call(endpoint.method, endpoint.path, body, f"{endpoint.method} {endpoint.path} {name}")
    agents = "/v1/agents"
    for name, body in _table(
        {
            "name a number": {"name": 1},
            "name 1 MB": {"name": f"TOKEN{megabyte}"},
            "max_pending 10**30": {"name": "TOKEN", "max_pending": 10**30},
            "max_pending -1": {"name": "TOKEN", "max_pending": -1},
            "max_pending 1.5": {"name": "TOKEN", "max_pending": 1.5},
            "max_pending 2**31": {"name": "TOKEN", "max_pending": 2**31},
            "skills not a list": {"name": "TOKEN", "skills": "sales"},
            "skills of numbers": {"name": "TOKEN", "skills": [1, 2]},
            "10000 skills": {"name": "TOKEN", "skills": [f"s{n}" for n in range(10000)]},
            "unknown field": {"name": "TOKEN", "admin": True},
        }
    ):
        call("POST", agents, dumps(body), f"POST {agents} {name}")
    call("POST", agents, b'{"name": "TOKEN", "max_pending": NaN}', f"POST {agents} max_pending NaN")
    call("POST", agents, b'{"name": "TOKEN", "max_pending": Infinity}', f"POST {agents} max_pending Infinity")
    # NUL and lone surrogates in a name: cleaned or refused, never a 500 from PostgreSQL.
    call("POST", agents, b'{"name": "nul\\u0000TOKEN"}', f"POST {agents} NUL in name", expect=EITHER)
    call("POST", agents, b'{"name": "TOKEN\\ud800"}', f"POST {agents} lone surrogate in name", expect=EITHER)
    call(
        "POST",
        agents,
        b'{"name": "TOKEN", "languages": ["\\u0000"]}',
        f"POST {agents} NUL in a language",
        expect=EITHER,
    )
    presence = "/v1/agents/{agent}/presence"
    for name, body in _table(
        {
            "unknown status": {"status": "TOKEN"},
            "status null": {"status": None},
            "no status": {},
            "status 1 MB": {"status": megabyte},
        }
    ):
        call("PUT", presence, dumps(body), f"PUT {presence} {name}")
    for value in ("not-a-uuid", "' OR 1=1 --", "x" * 5000, "%00", "00000000-0000-0000-0000-00000000000g", "-1"):
        for path in ("/v1/agents/{v}", "/v1/conversations/{v}", "/v1/contacts/{v}", "/v1/agents/{v}/conversations"):
            call("GET", path.replace("{v}", value), None, f"GET {path} with {value[:20]!r}")
        call("DELETE", f"/v1/intents/{value}", None, f"DELETE /v1/intents/{{id}} with {value[:20]!r}")
        call("DELETE", f"/v1/quick-replies/{value}", None, f"DELETE /v1/quick-replies/{{id}} with {value[:20]!r}")
    for query in (
        "limit=1000000000000000000000000000000",
        "limit=-1",
        "limit=0",
        "limit=abc",
        "limit=1e3",
        "status=%00",
        "channel=%00TOKEN",
        "external_id=%00",
        "status=" + "s" * 6000,
        "external_id=%ED%A0%80",
    ):
        call("GET", f"/v1/conversations?{query}", None, f"GET /v1/conversations?{query[:40]}", expect=EITHER)
    for query in (
        "channel=whatsapp",
        "external_id=1",
        "channel=whatsapp&external_id=%00TOKEN",
        "channel=%00&external_id=1",
        "channel=" + "c" * 6000 + "&external_id=1",
    ):
        # 400: the router refuses a NUL in the query before routing it.
        call("GET", f"/v1/contacts?{query}", None, f"GET /v1/contacts?{query[:40]}", statuses=(400, 404, 422))
    attributes = "/v1/contacts/{contact}/attributes"
    for name, body in _table(
        {
            "integer 10**30": b'{"t": "TOKEN", "ltv": 1000000000000000000000000000000}',
            "NaN literal": b'{"t": "TOKEN", "ltv": NaN}',
            "Infinity literal": b'{"t": "TOKEN", "ltv": -Infinity}',
            "1e400": b'{"t": "TOKEN", "ltv": 1e400}',
            "NUL in a value": b'{"t": "TOKEN\\u0000"}',
            "NUL in a key": b'{"t\\u0000": "TOKEN"}',
            "lone surrogate": b'{"t": "TOKEN\\udfff"}',
            "1 MB value": b'{"t": "TOKEN' + megabyte.encode() + b'"}',
            "array": b'["TOKEN"]',
        }
    ):
        call("PUT", attributes, body, f"PUT {attributes} {name}", expect=EITHER)
    # Each odd number in an attribute priority is computed from, then the contact read back: in order, each
    # pair after a reset of those attributes (null removes one), so one bad value does not mask the next.
    reset = dumps(dict.fromkeys(("lifetime_value", "monthly_spend", "returns_90d", "tags")))
    for value in ("NaN", "Infinity", "-inf", "1e400", "nan", "1" * 5000):
        call(
            "PUT",
            attributes,
            dumps({"lifetime_value": value, "t": "TOKEN"}),
            f"PUT {attributes} lifetime_value {value[:12]!r}",
            expect=EITHER,
            ordered=True,
        )
        for attribute in ("monthly_spend", "returns_90d", "tags"):
            call("PUT", attributes, reset, f"PUT {attributes} reset before {attribute}", expect=EITHER, ordered=True)
            call(
                "PUT",
                attributes,
                dumps({attribute: value}),
                f"PUT {attributes} {attribute}={value[:12]!r}",
                expect=EITHER,
                ordered=True,
            )
            call(
                "GET",
                "/v1/contacts/{contact}",
                None,
                f"GET the contact after {attribute}={value[:12]!r}",
                expect=ACCEPTED,
                ordered=True,
            )
    crm = "/v1/crm/contacts"
    for name, body in _table(
        {
            "external id 321 chars": {"channel": "whatsapp", "external_id": "1" * 321},
            "external id empty": {"channel": "whatsapp", "external_id": ""},
            "channel 1 MB": {"channel": megabyte, "external_id": "TOKEN"},
            "attributes deep": {"channel": "telegram", "external_id": "TOKEN", "attributes": json.loads(nested(500))},
            "display name 1 MB": {"channel": "telegram", "external_id": "TOKEN", "display_name": megabyte},
        }
    ):
        call("POST", crm, dumps(body), f"POST {crm} {name}", expect=EITHER)
    call(
        "POST",
        crm,
        b'{"channel": "telegram", "external_id": "\\u0000TOKEN"}',
        f"POST {crm} NUL in external id",
        expect=EITHER,
    )
    call(
        "POST",
        crm,
        b'{"channel": "telegram", "external_id": "TOKEN\\ud800"}',
        f"POST {crm} lone surrogate",
        expect=EITHER,
    )
    identities = "/v1/contacts/{contact}/identities"
    for name, body in _table(
        {
            "channel 1000 chars": {"channel": "c" * 1000, "external_id": "TOKEN"},
            "no channel": {"external_id": "TOKEN"},
        }
    ):
        call("POST", identities, dumps(body), f"POST {identities} {name}", expect=EITHER)
    call("POST", "/v1/contacts/{contact}/merge", dumps({"from_contact_id": "TOKEN"}), "POST merge a non-uuid")
    call("POST", "/v1/contacts/{contact}/merge", dumps({"from_contact_id": ids["contact"]}), "POST merge into itself")
    intents = "/v1/intents"
    for name, body in _table(
        {
            "bad intent name": {"intent": "Bad Intent TOKEN"},
            "pattern does not compile": {"intent": "hostile_x", "patterns": ["(TOKEN"]},
            "position 10**30": {"intent": "hostile_x", "keywords": ["TOKEN"], "position": 10**30},
            "position 2**31": {"intent": "hostile_x", "keywords": ["TOKEN"], "position": 2**31},
            "reply too long": {"intent": "hostile_x", "reply": "r" * 5000 + "TOKEN"},
            "100000 keywords": {"intent": "hostile_x", "keywords": ["TOKEN"] * 100_000},
            "keyword 1 MB": {"intent": "hostile_x", "keywords": [f"TOKEN{megabyte}"]},
            "catastrophic pattern": {"intent": "hostile_x", "patterns": ["^(a+)+$TOKEN"]},
            "NUL keyword": {"intent": "hostile_x", "keywords": ["\u0000TOKEN"]},
        }
    ):
        call("POST", intents, dumps(body), f"POST {intents} {name}", expect=EITHER)
    schedules = "/v1/schedules/TOKEN"
    for name, body in _table(
        {
            "empty schedule": {"schedule": {}},
            "schedule not an object": {"schedule": "always"},
            "min_interval_s 10**30": {"schedule": {}, "min_interval_s": 10**30},
            "min_interval_s -1": {"schedule": {}, "min_interval_s": -1},
            "greeting too long": {"schedule": {}, "greeting": "g" * 5000},
            "schedule deep": {"schedule": json.loads(nested(500, "object"))},
            "timezone nonsense": {"schedule": {"timezone": "Mars/Olympus", "hours": {}}},
        }
    ):
        call("PUT", schedules, dumps(body), f"PUT /v1/schedules/{{account}} {name}", expect=EITHER)
    call(
        "PUT",
        "/v1/schedules/" + "a" * 5000,
        dumps({"schedule": {}}),
        "PUT a schedule for a 5000-char account",
        expect=EITHER,
    )
    quick = "/v1/quick-replies"
    for name, body in _table(
        {
            "bad shortcut": {"shortcut": "nope", "text": "TOKEN"},
            "empty text": {"shortcut": "/hx", "text": ""},
            "unknown placeholder": {"shortcut": "/hxph", "text": "{password} TOKEN"},
            "21 synonyms": {"shortcut": "/hxsyn", "text": "TOKEN", "synonyms": [f"/hs{n}" for n in range(21)]},
            "text too long": {"shortcut": "/hxlong", "text": "t" * 5000 + "TOKEN"},
            "NUL in text": {"shortcut": "/hxnul", "text": "\u0000TOKEN"},
        }
    ):
        call("POST", quick, dumps(body), f"POST {quick} {name}", expect=EITHER)
    call("PUT", "/v1/automation", dumps({"enabled": "maybe", "account": "TOKEN"}), "PUT automation enabled=maybe")
    call(
        "PUT",
        "/v1/automation",
        dumps({"enabled": True, "account": megabyte}),
        "PUT automation for a 1 MB account",
        expect=EITHER,
    )
    conversation = "/v1/conversations/{conversation}"
    for name, body in _table(
        {
            "transfer to a non-uuid": {"to_agent_id": "TOKEN"},
            "transfer elsewhere": {"to": "TOKEN"},
            "transfer to nobody": {},
        }
    ):
        call("POST", f"{conversation}/transfer", dumps(body), f"POST transfer {name}", expect=EITHER)
    for name, body in _table(
        {
            "note empty": {"text": ""},
            "note a number": {"text": 5},
            "note 1 MB": {"text": megabyte},
        }
    ):
        call("POST", f"{conversation}/notes", dumps(body), f"POST notes {name}", expect=EITHER)
    call("POST", f"{conversation}/messages", dumps({"text": "TOKEN"}), "POST a reply as the admin")
    # Body over the limit and declared-but-missing bodies, on calls that take one.
    for endpoint in (e for e in ENDPOINTS if e.body is not None):
        token = c.token()
        body = b'{"name": "' + token.encode() + b"x" * (2 * MAX_BODY) + b'"}'
        c.add(
            Case("", "", "router", endpoint.method, fill(endpoint.path, ids), body, dict(admin)),
            cat,
            f"{endpoint.method} {endpoint.path} 2 MiB body",
            token=token,
            statuses=(413, 422),
        )
    for endpoint in ENDPOINTS[:3] + ENDPOINTS[4:5]:
        if endpoint.body is None:
            continue
        token = c.token()
        c.add(
            Case("", "", "router", endpoint.method, fill(endpoint.path, ids), b'{"' + token.encode(), dict(admin)),
            cat,
            f"{endpoint.method} {endpoint.path} declared 1000 bytes, sent 12",
            token=token,
            declared_length=1000,
        )


def _router_paths(c: Corpus) -> None:
    for path in (f"/v1/nope{c.run}", "/v2/agents", "/v1//agents", "/admin"):
        c.add(
            Case("", "", "router", "GET", path, headers={"authorization": f"Bearer {ADMIN_TOKEN}"}),
            "unknown_paths",
            f"router GET {path}",
            statuses=(404, 405),
        )
    c.add(
        Case("", "", "router", "PATCH", "/v1/agents", b"{}", {"authorization": f"Bearer {ADMIN_TOKEN}"}),
        "unknown_paths",
        "router PATCH /v1/agents",
        statuses=(405,),
    )


def categories(cases: list[Case]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for case in cases:
        counts[case.category] = counts.get(case.category, 0) + 1
    return counts


def by_token(cases: list[Case]) -> Iterator[tuple[str, Case]]:
    for case in cases:
        if case.token:
            yield case.token, case
