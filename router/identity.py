"""Who a sender is across channels: a phone number in E.164, so WhatsApp and SMS meet as one contact.

WhatsApp's `wa_id` is the number's digits without "+"; Twilio writes "+" and the digits. Both become the
identity ('phone', E.164) beside the channel's own. Pure.
"""

import phonenumbers

PHONE_CHANNELS = frozenset({"whatsapp", "twilio"})


def phone_of(channel: str, sender_external_id: str) -> str | None:
    """The sender's number in E.164, when the channel addresses people by phone number and it is one."""
    if channel not in PHONE_CHANNELS:
        return None
    digits = sender_external_id.strip()
    if not digits.startswith("+"):
        digits = "+" + digits
    try:
        number = phonenumbers.parse(digits, None)
    except phonenumbers.NumberParseException:
        return None  # e.g. a WhatsApp business-scoped user id (BSUID) instead of a number
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
