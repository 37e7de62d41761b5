"""Twilio's addresses, and what a reply through Twilio needs from the customer's message.

Twilio writes an address as a bare number for SMS/MMS (`+14155550100`, a short code) and as
`<channel>:<id>` for the channels it relays (`whatsapp:+14155550100`, `whatsapp:<BSUID>`)
(twilio.com/docs/messaging/guides/webhook-request). Switchboard keeps the bare id as the customer's and
the account's external id, so one phone number is one customer and one account whether the message came
by SMS or by WhatsApp; the channel it came by is kept in the message's `channel_data` under `VARIANT`,
and the reply leaves by the channel the customer last wrote on.

This is a contract between ingest (which writes the keys) and the dispatcher (which reads them).
"""

SMS = "sms"  # a bare address: SMS or MMS
WHATSAPP = "whatsapp"

# `channel_data` keys of an inbound Twilio message.
VARIANT = "variant"  # SMS, WHATSAPP, or another `<channel>:` prefix Twilio used
# The URL Twilio delivered the customer's message to: this same webhook, which also takes status callbacks.
# Twilio sends receipts only to a `StatusCallback` named on the send, and ingest knows its public URL
# (the one Twilio signed) where the dispatcher does not.
STATUS_CALLBACK = "status_callback"


def split_address(address: str) -> tuple[str, str]:
    """(variant, bare id) of a Twilio address: `whatsapp:+1415...` -> ("whatsapp", "+1415...")."""
    prefix, colon, bare = address.partition(":")
    if not colon:
        return SMS, address
    return prefix.lower(), bare


def join_address(variant: str, bare: str) -> str:
    """The Twilio address of a bare id on a channel variant: the inverse of `split_address`."""
    return bare if variant == SMS else f"{variant}:{bare}"
