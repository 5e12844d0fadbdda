"""Domain errors, mapped once to HTTP statuses by ``common.api.exception_handler``."""


class ApplicationError(Exception):
    """A domain rule said no. ``field`` names the input at fault when there is one."""

    status_code = 400
    code = "invalid"

    def __init__(self, message: str, *, field: str | None = None, extra: dict | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.extra = extra or {}


class InvalidInput(ApplicationError):
    status_code = 400
    code = "invalid"


class NotAllowed(ApplicationError):
    status_code = 403
    code = "permission_denied"


class Conflict(ApplicationError):
    status_code = 409
    code = "conflict"


class Unprocessable(ApplicationError):
    status_code = 422
    code = "unprocessable"


class RateLimited(ApplicationError):
    """Too many requests of one kind; ``retry_after`` seconds until the limit resets."""

    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, field: str | None = None):
        super().__init__(message, field=field, extra={"retry_after": retry_after})
        self.retry_after = retry_after
