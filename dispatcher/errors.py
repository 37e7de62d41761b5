"""Why a send did not succeed; the dispatcher retries one kind and dead-letters the other.

SendError
├── RetryableError       provider rate limit, 5xx, timeout, connection: back off and try again
└── PermanentError       the provider refused this message; retrying cannot help
    └── RuleViolation    a channel rule forbids it (e.g. WhatsApp's 24-hour window): not even tried
"""


class SendError(Exception):
    """A send that did not succeed; `code` is the provider's error code when it gave one."""

    def __init__(self, detail: str, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code


class RetryableError(SendError):
    pass


class PermanentError(SendError):
    pass


class RuleViolation(PermanentError):
    pass
