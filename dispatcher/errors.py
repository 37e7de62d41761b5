"""Why a send did not succeed; the dispatcher retries one kind, settles another as unknown, dead-letters the rest.

SendError
├── RetryableError       nothing reached the provider, or it refused for now (429, 5xx, connect error,
│                        connect/pool timeout): back off (`retry_after_s` when the provider said) and try again
├── OutcomeUnknown       the request was written and its answer lost (read timeout, connection dropped
│                        after sending): the provider may have it. Resent only where that is safe
│                        (`resend_safe`: an idempotency or retry key), otherwise the reply ends `unknown`
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
    """Not taken this time; `retry_after_s` is the wait the provider asked for (Retry-After), if it did."""

    def __init__(
        self, detail: str, code: str | None = None, *, retry_after_s: float | None = None, rate_limited: bool = False
    ) -> None:
        super().__init__(detail, code)
        self.retry_after_s = retry_after_s
        self.rate_limited = rate_limited  # a 429 (or the provider's rate-limit code), which backs off longer


class OutcomeUnknown(SendError):
    """The request may have reached the provider; `resend_safe` when a resend cannot deliver it twice."""

    def __init__(self, detail: str, code: str | None = None, *, resend_safe: bool = False) -> None:
        super().__init__(detail, code)
        self.resend_safe = resend_safe


class PermanentError(SendError):
    pass


class RuleViolation(PermanentError):
    pass
