"""Typed errors that carry their HTTP status; one handler turns them into JSON."""

from __future__ import annotations

from typing import Any


class QuartierError(Exception):
    """Base of every error a client or operator may see."""

    status = 500
    code = "internal_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.details}

    def headers(self) -> dict[str, str]:
        """HTTP headers the answer carries besides the body."""
        return {}


class BadRequest(QuartierError):
    status = 400
    code = "bad_request"


class NotFound(QuartierError):
    status = 404
    code = "not_found"


class MethodNotAllowed(QuartierError):
    status = 405
    code = "method_not_allowed"

    def __init__(self, message: str, allowed: list[str], **details: Any) -> None:
        super().__init__(message, allowed=allowed, **details)
        self.allowed = allowed

    def headers(self) -> dict[str, str]:
        return {"Allow": ", ".join(self.allowed)}


class Unauthorized(QuartierError):
    """No valid credentials: the key is missing where one is needed, unknown, expired or
    revoked. The message never repeats the key."""

    status = 401
    code = "unauthorized"

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": 'Bearer realm="quartier"'}


class Forbidden(QuartierError):
    """The principal is known, but its role or scopes do not allow the request."""

    status = 403
    code = "forbidden"


class Conflict(QuartierError):
    status = 409
    code = "conflict"


class Unprocessable(QuartierError):
    status = 422
    code = "unprocessable"


class PayloadTooLarge(QuartierError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(QuartierError):
    status = 415
    code = "unsupported_media_type"


class TooManyRequests(QuartierError):
    """A rate limit is used up; ``retry_after`` seconds until the next request may pass."""

    status = 429
    code = "too_many_requests"

    def __init__(self, message: str, retry_after: int, **details: Any) -> None:
        super().__init__(message, retryAfter=retry_after, **details)
        self.retry_after = retry_after

    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)}


class ServiceUnavailable(QuartierError):
    """The database cannot be reached just now; the client may try again."""

    status = 503
    code = "service_unavailable"


class RequestTimeout(ServiceUnavailable):
    """A read took longer than the request time limit and was stopped.

    503 rather than 504: Quartier is the origin server, not a gateway waiting on one, and
    503 is the status clients and proxies know to mean "not now" (never cached, may be
    retried, ideally narrower)."""

    code = "request_timeout"


class SettingsError(QuartierError):
    """A setting is invalid; raised at start-up."""

    code = "invalid_setting"


class SchemaVersionError(QuartierError):
    """The database schema is newer than this program, or cannot be migrated."""

    code = "schema_version"
