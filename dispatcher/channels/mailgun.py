"""Replying to an email by SMTP: from the mailbox it was sent to, threaded under it.

The reply is a plain-text email `From` the account's mailbox `To` the customer, with `Subject: Re: <theirs>`
(not doubled), `In-Reply-To: <their Message-Id>` and `References: <their References> <their Message-Id>`
(RFC 5322 section 3.6.4), so the customer's mail client shows it in the same thread. Its `Message-ID`
is derived from the reply's own id: a send retried after a lost answer carries the same one, and it is
what Mailgun's event webhooks name (ingest/mailgun_events.py).

The relay is SWITCHBOARD_SMTP_HOST/PORT (the sandbox's SMTP sink locally; Mailgun's smtp.mailgun.org:587
with STARTTLS and the domain's SMTP credentials in production). Email has no reply window.
SMTP replies (RFC 5321 section 4.2.1): 4yz is transient, so retried, like a relay that could not be
reached; 5yz is permanent (unknown mailbox, refused sender, bad credentials), so the reply fails. A
connection that drops or times out once the session started may have delivered the mail (the relay may
have taken the DATA before its answer was lost), and SMTP has no idempotency key: the outcome is unknown.
"""

import re
import socket
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

import aiosmtplib
import httpx

from dispatcher.errors import OutcomeUnknown, PermanentError, RetryableError
from dispatcher.result import Send, SendResult
from dispatcher.settings import DispatcherSettings
from schemas.outbound import OutboundMessage
from services.accounts import ChannelAccount

_ALREADY_A_REPLY = re.compile(r"^\s*re\s*:", re.IGNORECASE)
# Long threads' References are trimmed to the first id and the latest ones, as mail clients do.
_MAX_REFERENCES = 20


@dataclass(frozen=True)
class SmtpRelay:
    """Where replies are handed over, and how."""

    host: str
    port: int
    username: str
    password: str
    starttls: bool
    timeout_s: float


def reply_subject(original: str, account: ChannelAccount) -> str:
    """`Re: ` and the customer's subject, once; the mailbox's name when they gave none."""
    subject = " ".join(original.split())  # unfolded, and no line break can reach the header
    if not subject:
        return f"Re: your message to {account.name}"
    return subject if _ALREADY_A_REPLY.match(subject) else f"Re: {subject}"


def reply_message_id(account: ChannelAccount, outbound: OutboundMessage) -> str:
    """The reply's Message-ID: its own id at the mailbox's domain."""
    return f"<{outbound.message_id}@{account.external_id.rpartition('@')[2]}>"


def references(reply_context: dict[str, str]) -> str:
    """The customer's References with their Message-Id appended, trimmed for long threads."""
    parent = reply_context.get("message_id", "")
    ids = list(dict.fromkeys(i for i in (*reply_context.get("references", "").split(), parent) if i))
    if len(ids) > _MAX_REFERENCES:
        ids = [ids[0], *ids[-(_MAX_REFERENCES - 1) :]]
    return " ".join(ids)


def reply_email(account: ChannelAccount, outbound: OutboundMessage, now: datetime) -> EmailMessage:
    """The email that carries one reply."""
    context = outbound.reply_context
    message = EmailMessage()
    message["From"] = formataddr((account.name, account.external_id))
    message["To"] = outbound.recipient_external_id
    message["Subject"] = reply_subject(context.get("subject", ""), account)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = reply_message_id(account, outbound)
    parent = context.get("message_id", "")
    if parent:
        message["In-Reply-To"] = parent
        message["References"] = references(context)
    if outbound.author == "bot":
        message["Auto-Submitted"] = "auto-replied"  # RFC 3834: other robots must not answer it
    message.set_content(outbound.text)
    return message


async def send(relay: SmtpRelay, account: ChannelAccount, outbound: OutboundMessage, now: datetime) -> SendResult:
    """Hand one reply to the SMTP relay; raises `RetryableError` or `PermanentError` when it is refused."""
    if "@" not in account.external_id:
        raise PermanentError(f"account {account.external_id!r} is not a mailbox address", code="bad_account")
    if "@" not in outbound.recipient_external_id:
        raise PermanentError(f"{outbound.recipient_external_id!r} is not an email address", code="bad_recipient")
    message = reply_email(account, outbound, now)
    try:
        await aiosmtplib.send(
            message,
            sender=account.external_id,
            recipients=[outbound.recipient_external_id],
            hostname=relay.host,
            port=relay.port,
            username=relay.username or None,
            password=relay.password or None,
            start_tls=relay.starttls,
            timeout=relay.timeout_s,
        )
    except (aiosmtplib.SMTPException, OSError) as error:
        raise classify_error(error) from error
    return SendResult(provider_message_id=reply_message_id(account, outbound))


def sender(settings: DispatcherSettings) -> Send:
    """`send` bound to the configured SMTP relay."""
    relay = SmtpRelay(
        host=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value(),
        starttls=settings.smtp_starttls,
        timeout_s=settings.send_timeout_s,
    )

    async def send_email(
        client: httpx.AsyncClient, account: ChannelAccount, outbound: OutboundMessage, now: datetime
    ) -> SendResult:
        return await send(relay, account, outbound, now)  # email is not HTTP: the client goes unused

    return send_email


def classify_error(error: Exception) -> RetryableError | PermanentError | OutcomeUnknown:
    """Map what the SMTP exchange raised to retry-later or give-up."""
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        codes = [refused.code for refused in error.recipients]
        detail = "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in error.recipients)
        code = str(codes[0]) if codes else None
        if codes and all(500 <= c < 600 for c in codes):
            return PermanentError(f"SMTP refused the recipient: {detail}", code=code)
        return RetryableError(f"SMTP deferred the recipient: {detail}", code=code)
    if isinstance(error, aiosmtplib.SMTPResponseException):
        detail = f"SMTP {error.code}: {error.message}"
        if 500 <= error.code < 600:
            return PermanentError(detail, code=str(error.code))
        return RetryableError(detail, code=str(error.code))
    if isinstance(error, aiosmtplib.SMTPNotSupported):
        return PermanentError(f"SMTP relay lacks what the settings require: {error}", code="smtp_not_supported")
    if isinstance(error, aiosmtplib.SMTPConnectError | ConnectionRefusedError | socket.gaierror):
        return RetryableError(f"SMTP relay unreachable: {error!r}", code="smtp_unreachable")
    return OutcomeUnknown(f"SMTP session broke off before the relay answered: {error!r}", code="smtp_no_answer")
