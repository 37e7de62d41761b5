"""Instagram replies, through the Instagram API with Instagram Login: `{instagram_api_base}/{ig_id}/messages`.

The base is graph.instagram.com and the account's token an Instagram User access token
(developers.facebook.com/docs/instagram-platform/instagram-api-with-instagram-login/messaging-api), so an
Instagram professional account needs no linked Facebook Page. The older Page-linked stack (Messenger API
for Instagram) addresses the Page (`graph.facebook.com/{page_id}/messages`, Page token) and is not served
here. Text is at most 1,000 bytes of UTF-8, the stricter of Meta's two statements of the limit ("less
than 1000 characters", "1000 bytes or less"). Rules, request and errors: dispatcher/channels/meta_messaging.py.
"""

from dispatcher.channels.meta_messaging import MessagingPlatform
from dispatcher.channels.meta_messaging import sender as messaging_sender
from dispatcher.result import Send
from dispatcher.settings import DispatcherSettings


def _utf8_bytes(text: str) -> int:
    return len(text.encode())


INSTAGRAM = MessagingPlatform(
    channel="instagram", name="Instagram", max_text=1000, text_unit="bytes of UTF-8", measure=_utf8_bytes
)


def sender(settings: DispatcherSettings) -> Send:
    """Instagram's `send`, bound to its configured API base."""
    return messaging_sender(settings.instagram_api_base, INSTAGRAM)
