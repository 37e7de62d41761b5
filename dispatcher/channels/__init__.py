"""The registry of channels the dispatcher sends through.

Each channel module has `sender(settings) -> Send`: its send function bound to its configured API base.
"""

from dispatcher.channels import instagram, line, mailgun, messenger, telegram, twilio, webchat, whatsapp
from dispatcher.result import Send
from dispatcher.settings import DispatcherSettings


def build_senders(settings: DispatcherSettings) -> dict[str, Send]:
    """Every channel's `send`, by channel name."""
    return {
        "whatsapp": whatsapp.sender(settings),
        "line": line.sender(settings),
        "telegram": telegram.sender(settings),
        "messenger": messenger.sender(settings),
        "instagram": instagram.sender(settings),
        "twilio": twilio.sender(settings),
        "mailgun": mailgun.sender(settings),
        "webchat": webchat.sender(settings),
    }
