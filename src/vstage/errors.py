"""One error tree for the whole service.

Services raise these; :mod:`vstage.error_handlers` maps them to HTTP in one place,
always as ``{"error": {"code", "message", ...}}``. The CLI prints ``message``.
"""

from __future__ import annotations

from typing import Any


class VstageError(Exception):
    """Base of every error we raise on purpose."""

    status_code: int = 400
    code: str = "bad_request"

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra: dict[str, Any] = extra

    def to_body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, **self.extra}}


class ConfigError(VstageError):
    """Invalid configuration: the process must not start."""

    status_code = 500
    code = "config_error"


class NotFound(VstageError):
    """The resource does not exist *or belongs to someone else* (never leak which)."""

    status_code = 404
    code = "not_found"


class Unauthorized(VstageError):
    status_code = 401
    code = "unauthorized"


class Forbidden(VstageError):
    status_code = 403
    code = "forbidden"


class Conflict(VstageError):
    status_code = 409
    code = "conflict"


class InvalidInput(VstageError):
    status_code = 422
    code = "invalid_input"


class PayloadTooLarge(VstageError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(VstageError):
    status_code = 415
    code = "unsupported_media_type"


class QuotaExceeded(VstageError):
    status_code = 402
    code = "quota_exceeded"


class RateLimited(VstageError):
    status_code = 429
    code = "rate_limited"


class ServiceUnavailable(VstageError):
    status_code = 503
    code = "unavailable"


class UpstreamError(VstageError):
    """A dependency we call (Stripe, Auth0, S3) failed."""

    status_code = 502
    code = "upstream_error"
