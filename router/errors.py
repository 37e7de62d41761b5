"""Why the agent/admin API refuses a call; each maps to one status and a machine-readable body.

ApiError
├── Unauthenticated  401  no valid bearer token
├── Forbidden        403  valid token, not allowed to do this
├── InvalidRequest   422  well-formed JSON that says something impossible (e.g. a schedule)
├── NotFound         404
├── Conflict         409  the resource changed: e.g. the conversation is no longer yours
└── Unavailable      503  a dependency (Kafka) did not take the work
"""


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


class Unavailable(ApiError):
    status = 503
    code = "unavailable"
