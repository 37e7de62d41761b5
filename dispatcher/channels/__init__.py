"""The registry of channels the dispatcher sends through.

Each channel module has `sender(settings) -> Send`: its send function bound to its configured API base.
"""

from dispatcher.channels import whatsapp
from dispatcher.result import Send
from dispatcher.settings import DispatcherSettings


def build_senders(settings: DispatcherSettings) -> dict[str, Send]:
    """Every channel's `send`, by channel name."""
    return {
        "whatsapp": whatsapp.sender(settings),
    }
