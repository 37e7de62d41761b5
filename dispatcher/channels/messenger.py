"""Messenger replies: Meta's Send API at `{messenger_api_base}/{page_id}/messages` with the Page's token.

Messenger allows 2,000 characters of UTF-8 text per message
(developers.facebook.com/docs/messenger-platform/reference/send-api). The window rules, request and
error handling are Instagram's too: dispatcher/channels/meta_messaging.py.
"""

from dispatcher.channels.meta_messaging import MessagingPlatform
from dispatcher.channels.meta_messaging import sender as messaging_sender
from dispatcher.result import Send
from dispatcher.settings import DispatcherSettings

MESSENGER = MessagingPlatform(channel="messenger", name="Messenger", max_text=2000, text_unit="characters", measure=len)


def sender(settings: DispatcherSettings) -> Send:
    """Messenger's `send`, bound to its configured API base."""
    return messaging_sender(settings.messenger_api_base, MESSENGER)
