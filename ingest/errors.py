"""Why ingest refuses a webhook; each error maps to one HTTP status and a machine-readable body.

WebhookError
├── UnknownChannel      404  no such channel
├── SignatureError      401  missing or wrong signature: the body is not the provider's
├── PayloadError        400  signed, but not what the channel sends
├── BodyIncomplete      400  the client stopped before the body its Content-Length declared
├── BodyTimeout         408  the body did not arrive in time
├── PayloadTooLarge     413  above the size limit
├── PublishError        503  Kafka did not acknowledge: the provider should retry
└── LedgerUnavailable   503  the replay ledger (PostgreSQL) did not answer: the provider should retry
"""

from pydantic import ValidationError


class WebhookError(Exception):
    """A webhook ingest refuses; `status` and `code` become the HTTP answer."""

    status = 400
    code = "bad_request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class UnknownChannel(WebhookError):
    status = 404
    code = "unknown_channel"


class SignatureError(WebhookError):
    status = 401
    code = "bad_signature"


class PayloadError(WebhookError):
    status = 400
    code = "bad_payload"

    @classmethod
    def invalid(cls, error: ValidationError) -> "PayloadError":
        """The first thing wrong with a body, and where: `entry.0.changes: Field required`."""
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "body"
        return cls(f"{where}: {first['msg']}")


class BodyIncomplete(WebhookError):
    status = 400
    code = "incomplete_body"


class BodyTimeout(WebhookError):
    status = 408
    code = "body_timeout"


class PayloadTooLarge(WebhookError):
    status = 413
    code = "payload_too_large"


class PublishError(WebhookError):
    status = 503
    code = "kafka_unavailable"


class LedgerUnavailable(WebhookError):
    status = 503
    code = "ledger_unavailable"
