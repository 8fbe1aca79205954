"""One error family, mapped once to HTTP JSON (config.api) and to form errors (web)."""


class ApplicationError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, fields: dict | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.code
        self.fields = {k: list(v) for k, v in (fields or {}).items()}

    def as_dict(self) -> dict:
        return {"error": {"code": self.code, "message": self.message, "fields": self.fields}}


class ValidationFailed(ApplicationError):
    status = 422
    code = "validation_error"


class NotFound(ApplicationError):
    status = 404
    code = "not_found"


class Forbidden(ApplicationError):
    status = 403
    code = "forbidden"


class Unauthorized(ApplicationError):
    status = 401
    code = "unauthorized"


class MethodNotAllowed(ApplicationError):
    status = 405
    code = "method_not_allowed"


class Conflict(ApplicationError):
    status = 409
    code = "conflict"


class TooLarge(ApplicationError):
    status = 413
    code = "payload_too_large"


class TooMany(ApplicationError):
    status = 429
    code = "rate_limited"
