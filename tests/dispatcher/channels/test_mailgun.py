from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any
from uuid import UUID

import aiosmtplib
import pytest

from dispatcher.channels.mailgun import SmtpRelay, classify_error, references, reply_email, reply_subject, send
from dispatcher.errors import OutcomeUnknown, PermanentError, RetryableError
from schemas.outbound import OutboundMessage
from services.accounts import ChannelAccount

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ACCOUNT = ChannelAccount(channel="mailgun", external_id="support@mg.example.com", name="Acme Support")
RELAY = SmtpRelay(host="127.0.0.1", port=2525, username="", password="", starttls=False, timeout_s=5)
REPLY_ID = UUID("7c8d1a2e-5b7f-4c1a-9d8e-2f3a4b5c6d7e")


def outbound(reply_context: dict[str, str] | None = None, author: str = "agent", to: str = "bob@ex.com"):
    return OutboundMessage(
        message_id=REPLY_ID,
        conversation_id=UUID(int=1),
        channel="mailgun",
        account_external_id=ACCOUNT.external_id,
        recipient_external_id=to,
        text="Your order ships today.",
        author=author,
        created_at=NOW,
        customer_last_message_at=None,  # email has no window: a reply needs no recent message
        reply_context=reply_context
        if reply_context is not None
        else {"subject": "Order 42", "message_id": "<abc@ex.com>", "references": "<x0@mg.example.com>"},
    )


def test_the_reply_is_threaded_under_the_customers_email():
    message = reply_email(ACCOUNT, outbound(), NOW)
    assert message["From"] == "Acme Support <support@mg.example.com>"
    assert message["To"] == "bob@ex.com"
    assert message["Subject"] == "Re: Order 42"
    assert message["Message-ID"] == "<7c8d1a2e-5b7f-4c1a-9d8e-2f3a4b5c6d7e@mg.example.com>"
    assert message["In-Reply-To"] == "<abc@ex.com>"
    assert message["References"] == "<x0@mg.example.com> <abc@ex.com>"
    assert message["Date"] == "Mon, 23 Nov 2026 12:00:00 +0000"
    assert message["Auto-Submitted"] is None
    assert message.get_content() == "Your order ships today.\n"


def test_without_the_customers_message_id_the_reply_starts_a_thread():
    message = reply_email(ACCOUNT, outbound({"subject": "Hello", "message_id": "", "references": ""}), NOW)
    assert (message["In-Reply-To"], message["References"]) == (None, None)
    assert message["Subject"] == "Re: Hello"


def test_a_bots_reply_says_it_is_automatic_so_no_robot_answers_it():
    assert reply_email(ACCOUNT, outbound(author="bot"), NOW)["Auto-Submitted"] == "auto-replied"


@pytest.mark.parametrize(
    ("original", "subject"),
    [
        ("Order 42", "Re: Order 42"),
        ("Re: Order 42", "Re: Order 42"),
        ("RE:Order 42", "RE:Order 42"),
        ("  re : Order 42", "re : Order 42"),
        ("Order\r\n 42", "Re: Order 42"),
        ("Regarding 42", "Re: Regarding 42"),
        ("", "Re: your message to Acme Support"),
    ],
)
def test_the_subject_gets_one_re(original, subject):
    assert reply_subject(original, ACCOUNT) == subject


def test_references_append_the_parent_without_repeats_and_trim_long_threads():
    assert references({"message_id": "<p@x>", "references": "<a@x>\r\n <b@x>"}) == "<a@x> <b@x> <p@x>"
    assert references({"message_id": "<p@x>", "references": "<a@x> <p@x>"}) == "<a@x> <p@x>"
    long = " ".join(f"<{n}@x>" for n in range(30))
    trimmed = references({"message_id": "<p@x>", "references": long}).split()
    assert len(trimmed) == 20
    assert (trimmed[0], trimmed[1], trimmed[-1]) == ("<0@x>", "<12@x>", "<p@x>")


async def test_send_hands_the_email_to_the_relay_from_the_accounts_mailbox(monkeypatch):
    handed: list[tuple[EmailMessage, dict[str, Any]]] = []

    async def relay(message: EmailMessage, **options: Any):
        handed.append((message, options))
        return {}, "250 2.0.0 Ok: queued"

    monkeypatch.setattr(aiosmtplib, "send", relay)
    result = await send(RELAY, ACCOUNT, outbound(), NOW)
    assert result.provider_message_id == "<7c8d1a2e-5b7f-4c1a-9d8e-2f3a4b5c6d7e@mg.example.com>"
    [(message, options)] = handed
    assert message["Message-ID"] == result.provider_message_id
    assert options["sender"] == "support@mg.example.com"
    assert options["recipients"] == ["bob@ex.com"]
    assert (options["hostname"], options["port"], options["start_tls"]) == ("127.0.0.1", 2525, False)
    assert (options["username"], options["password"]) == (None, None)


async def test_a_recipient_that_is_no_address_fails_without_calling_the_relay(monkeypatch):
    async def relay(*args: Any, **kwargs: Any):
        raise AssertionError("the relay must not be called")

    monkeypatch.setattr(aiosmtplib, "send", relay)
    with pytest.raises(PermanentError, match="not an email address"):
        await send(RELAY, ACCOUNT, outbound(to="+15550100"), NOW)


@pytest.mark.parametrize(
    ("error", "kind", "code"),
    [
        (aiosmtplib.SMTPDataError(451, "4.3.0 try later"), RetryableError, "451"),
        (aiosmtplib.SMTPSenderRefused(421, "busy", "support@mg.example.com"), RetryableError, "421"),
        (aiosmtplib.SMTPDataError(554, "5.7.1 rejected as spam"), PermanentError, "554"),
        (aiosmtplib.SMTPAuthenticationError(535, "5.7.8 bad credentials"), PermanentError, "535"),
        (
            aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(550, "5.1.1 no such user", "b@x")]),
            PermanentError,
            "550",
        ),
        (
            aiosmtplib.SMTPRecipientsRefused([aiosmtplib.SMTPRecipientRefused(452, "4.2.2 over quota", "b@x")]),
            RetryableError,
            "452",
        ),
        (aiosmtplib.SMTPConnectError("connection refused"), RetryableError, "smtp_unreachable"),
        (aiosmtplib.SMTPConnectTimeoutError("connect timed out"), RetryableError, "smtp_unreachable"),
        (ConnectionRefusedError("refused"), RetryableError, "smtp_unreachable"),
        # Once the session started, the relay may have taken the mail before its answer was lost.
        (aiosmtplib.SMTPServerDisconnected("gone"), OutcomeUnknown, "smtp_no_answer"),
        (aiosmtplib.SMTPReadTimeoutError("timed out"), OutcomeUnknown, "smtp_no_answer"),
        (ConnectionResetError("reset"), OutcomeUnknown, "smtp_no_answer"),
        (aiosmtplib.SMTPNotSupported("STARTTLS not offered"), PermanentError, "smtp_not_supported"),
    ],
)
def test_smtp_errors_are_retryable_when_transient_and_permanent_when_5xx(error, kind, code):
    classified = classify_error(error)
    assert type(classified) is kind
    assert classified.code == code


async def test_an_unreachable_relay_is_retryable():
    closed = SmtpRelay(host="127.0.0.1", port=1, username="", password="", starttls=False, timeout_s=2)
    with pytest.raises(RetryableError):
        await send(closed, ACCOUNT, outbound(), NOW)
