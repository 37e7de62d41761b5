"""Phone numbers in E.164, so a WhatsApp number and an SMS number meet as one contact."""

import pytest

from router.identity import phone_of


@pytest.mark.parametrize(
    ("channel", "sender", "phone"),
    [
        ("whatsapp", "972501234567", "+972501234567"),
        ("twilio", "+972501234567", "+972501234567"),
        ("twilio", "+1 (415) 555-0123", "+14155550123"),
        ("whatsapp", "US.1349567891234567", None),  # a business-scoped user id, not a number
        ("twilio", "+1234", None),  # too short to be a number anywhere
        ("telegram", "972501234567", None),  # not a phone channel
        ("messenger", "24000000000777", None),
    ],
)
def test_phone_identity(channel, sender, phone):
    assert phone_of(channel, sender) == phone
