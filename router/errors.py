"""Why the agent/admin API refuses a call; each maps to one status and a machine-readable body.

ApiError
├── Unauthenticated      401  no valid bearer token
├── Forbidden            403  valid token, not allowed to do this
├── InvalidRequest       422  well-formed JSON that says something impossible (e.g. a schedule)
├── NotFound             404
├── Conflict             409  the resource changed: e.g. the conversation is no longer yours
├── PayloadTooLarge      413  a body over the router's limit, refused before it is read
└── Unavailable          503  a dependency did not take the work (Retry-After says when to try again)
    ├── DatabaseUnavailable   503  PostgreSQL unreachable, restarting or refusing connections
    └── KafkaUnavailable      503  Kafka did not take a record in time

`outage_of` sorts an exception escaping a handler: our own outage (PostgreSQL or Kafka) is a 503, never
a 500, because the caller did nothing wrong and may simply try again.
"""

from aiokafka.errors import KafkaError

from services.failures import DATABASE_OUTAGES

RETRY_AFTER_S = 2  # a PostgreSQL restart or a broker election takes seconds, not minutes


class ApiError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class Unauthenticated(ApiError):
    status = 401
    code = "unauthenticated"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class InvalidRequest(ApiError):
    status = 422
    code = "invalid_request"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class Conflict(ApiError):
    status = 409
    code = "conflict"


class PayloadTooLarge(ApiError):
    status = 413
    code = "payload_too_large"


class Unavailable(ApiError):
    status = 503
    code = "unavailable"


class DatabaseUnavailable(Unavailable):
    code = "database_unavailable"


class KafkaUnavailable(Unavailable):
    code = "kafka_unavailable"


# What PostgreSQL going away looks like: the consumers' definition (services/failures.py), plus a refused or
# reset socket and a connect that timed out, which the consumers treat alike as transient.
_DATABASE_OUTAGES = (*DATABASE_OUTAGES, OSError, TimeoutError)


# What an outage may raise, for the app's exception handlers (an ApiError has its own handler).
OUTAGES: tuple[type[Exception], ...] = (KafkaError, *_DATABASE_OUTAGES)


def outage_of(error: BaseException) -> Unavailable | None:
    """The 503 an exception amounts to when it is PostgreSQL or Kafka being unavailable, else None."""
    if isinstance(error, Unavailable):
        return error
    if isinstance(error, KafkaError):
        return KafkaUnavailable(f"Kafka did not answer: {type(error).__name__}")
    if isinstance(error, _DATABASE_OUTAGES):
        return DatabaseUnavailable(f"PostgreSQL did not answer: {type(error).__name__}")
    return None
