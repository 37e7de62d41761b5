import base64
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl
from uuid import uuid4

import httpx
import pytest
from pydantic import SecretStr

from dispatcher.channels.twilio import (
    MAX_BODY_CHARS,
    body_length,
    check_length,
    check_window,
    classify_error,
    request_form,
    send,
)
from dispatcher.errors import PermanentError, RetryableError, RuleViolation
from schemas.outbound import OutboundMessage
from services.accounts import ChannelAccount

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
SID = "AC00000000000000000000000000000001"
ACCOUNT = ChannelAccount(
    channel="twilio", external_id="+15550100001", name="dev", api_user=SID, access_token=SecretStr("auth-token")
)
CALLBACK = "https://hooks.example.com/webhooks/twilio"
# Twilio's 201 for a create (twilio/twilio-python tests/integration/api/v2010/account/test_message.py).
CREATED = {
    "account_sid": SID,
    "api_version": "2010-04-01",
    "body": "Your order ships today.",
    "date_created": "Thu, 30 Jul 2015 20:12:31 +0000",
    "date_sent": None,
    "date_updated": "Thu, 30 Jul 2015 20:12:31 +0000",
    "direction": "outbound-api",
    "error_code": None,
    "error_message": None,
    "from": "+15550100001",
    "messaging_service_sid": None,
    "num_media": "0",
    "num_segments": "1",
    "price": None,
    "price_unit": "USD",
    "sid": "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "status": "queued",
    "subresource_uris": {"media": f"/2010-04-01/Accounts/{SID}/Messages/SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Media.json"},
    "to": "+14155550100",
    "uri": f"/2010-04-01/Accounts/{SID}/Messages/SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.json",
}


def outbound(
    variant: str | None = "sms",
    last_message_ago: timedelta | None = timedelta(hours=1),
    text: str = "Your order ships today.",
    recipient: str = "+14155550100",
):
    context = {"status_callback": CALLBACK}
    if variant is not None:
        context["variant"] = variant
    return OutboundMessage(
        message_id=uuid4(),
        conversation_id=uuid4(),
        channel="twilio",
        account_external_id=ACCOUNT.external_id,
        recipient_external_id=recipient,
        text=text,
        author="agent",
        created_at=NOW,
        customer_last_message_at=None if last_message_ago is None else NOW - last_message_ago,
        reply_context=context,
    )


def test_an_sms_reply_is_bare_numbers_with_a_status_callback():
    assert request_form(ACCOUNT, outbound("sms")) == {
        "To": "+14155550100",
        "From": "+15550100001",
        "Body": "Your order ships today.",
        "StatusCallback": CALLBACK,
    }


def test_a_whatsapp_reply_leaves_by_whatsapp_on_both_sides():
    form = request_form(ACCOUNT, outbound("whatsapp", recipient="+5511987654321"))
    assert (form["To"], form["From"]) == ("whatsapp:+5511987654321", "whatsapp:+15550100001")


def test_a_reply_without_reply_context_is_an_sms_without_status_callback():
    bare = outbound(None).model_copy(update={"reply_context": {}})
    assert request_form(ACCOUNT, bare) == {"To": "+14155550100", "From": "+15550100001", "Body": bare.text}


def test_whatsapp_replies_keep_the_24_hour_window_and_sms_has_none():
    check_window(outbound("whatsapp", timedelta(hours=24)), NOW)
    with pytest.raises(RuleViolation, match="ContentSid") as closed:
        check_window(outbound("whatsapp", timedelta(hours=24, seconds=1)), NOW)
    assert closed.value.code == "outside_window"
    with pytest.raises(RuleViolation, match="never wrote"):
        check_window(outbound("whatsapp", None), NOW)
    check_window(outbound("sms", timedelta(days=30)), NOW)
    check_window(outbound("sms", None), NOW)


def test_a_body_above_1600_characters_is_refused_counting_emoji_as_twilio_does():
    check_length(outbound(text="x" * MAX_BODY_CHARS))
    with pytest.raises(PermanentError, match="1600") as refused:
        check_length(outbound(text="x" * (MAX_BODY_CHARS + 1)))
    assert not isinstance(refused.value, RuleViolation)
    assert refused.value.code == "body_too_long"
    assert body_length("👍") == 2
    with pytest.raises(PermanentError):
        check_length(outbound(text="👍" * 801))


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (429, 20429, RetryableError),
        (400, 20429, RetryableError),
        (500, 20500, RetryableError),
        (503, None, RetryableError),
        (400, 63016, RuleViolation),
        (400, 21211, PermanentError),
        (400, 21610, PermanentError),
        (400, 21614, PermanentError),
        (401, 20003, PermanentError),
        (404, 20404, PermanentError),
    ],
)
def test_provider_errors_are_retryable_or_permanent(status, code, kind):
    body = {} if code is None else {"code": code, "message": "m", "more_info": "u", "status": status}
    error = classify_error(status, body)
    assert type(error) is kind
    assert error.code == str(code or status)


async def test_send_posts_a_form_to_the_accounts_messages_with_basic_auth():
    seen: list[httpx.Request] = []

    def provider(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json=CREATED)

    reply = outbound("whatsapp")
    async with httpx.AsyncClient(transport=httpx.MockTransport(provider)) as client:
        result = await send(client, "https://api.twilio.example/", ACCOUNT, reply, NOW)
    assert result.provider_message_id == "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    [request] = seen
    assert request.method == "POST"
    assert str(request.url) == f"https://api.twilio.example/2010-04-01/Accounts/{SID}/Messages.json"
    assert request.headers["authorization"] == "Basic " + base64.b64encode(f"{SID}:auth-token".encode()).decode()
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert dict(parse_qsl(request.content.decode())) == request_form(ACCOUNT, reply)


@pytest.mark.parametrize(
    ("reply", "account", "raises"),
    [
        (outbound("whatsapp", timedelta(days=2)), ACCOUNT, RuleViolation),
        (outbound(text="x" * 1601), ACCOUNT, PermanentError),
        (outbound(), ACCOUNT.model_copy(update={"api_user": ""}), PermanentError),
    ],
    ids=["window-closed", "too-long", "no-account-sid"],
)
async def test_a_reply_that_breaks_a_rule_never_calls_the_provider(reply, account, raises):
    def provider(request: httpx.Request) -> httpx.Response:
        raise AssertionError("the provider must not be called")

    async with httpx.AsyncClient(transport=httpx.MockTransport(provider)) as client:
        with pytest.raises(raises):
            await send(client, "https://api.twilio.example", account, reply, NOW)


@pytest.mark.parametrize(
    ("response", "raises"),
    [
        (httpx.Response(429, json={"code": 20429, "message": "Too Many Requests", "status": 429}), RetryableError),
        (httpx.Response(502, text="<html>Bad Gateway</html>"), RetryableError),
        (
            httpx.Response(400, json={"code": 21610, "message": "Attempt to send to unsubscribed recipient"}),
            PermanentError,
        ),
        (httpx.Response(201, json={"status": "queued"}), PermanentError),
    ],
    ids=["rate-limited", "html-5xx", "stop", "no-sid"],
)
async def test_twilios_refusals_are_classified(response, raises):
    async with httpx.AsyncClient(transport=httpx.MockTransport(lambda request: response)) as client:
        with pytest.raises(raises):
            await send(client, "https://api.twilio.example", ACCOUNT, outbound(), NOW)


async def test_an_unreachable_provider_is_retryable():
    def provider(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with httpx.AsyncClient(transport=httpx.MockTransport(provider)) as client:
        with pytest.raises(RetryableError):
            await send(client, "https://api.twilio.example", ACCOUNT, outbound(), NOW)
