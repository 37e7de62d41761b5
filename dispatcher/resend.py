"""Which replies may be sent again when the answer to a call was lost: only where the provider dedupes.

- LINE's push carries `X-Line-Retry-Key` (the reply's id): LINE executes a key once and answers a repeat
  with 409 (developers.line.biz/en/docs/messaging-api/retrying-api-request). Its reply-token call has no
  key, so a lost reply-token call is not safe to repeat.
- Our web-chat API carries `Idempotency-Key` (the reply's id), which the site's backend honours
  (dispatcher/channels/webchat.py).
- WhatsApp, Messenger, Instagram, Twilio, Telegram and SMTP take no such key: sending again could deliver
  the reply twice, so a lost answer leaves the reply `unknown`.
"""

from datetime import datetime

from dispatcher.channels.line import fresh_reply_token
from schemas.outbound import OutboundMessage


def resend_safe(outbound: OutboundMessage, attempted_at: datetime) -> bool:
    """Whether a call for `outbound` made at `attempted_at`, whose answer was lost, may be made again."""
    if outbound.channel == "webchat":
        return True
    if outbound.channel == "line":
        return fresh_reply_token(outbound, attempted_at) is None  # it went by push, with the retry key
    return False
