"""Maps every error to ``{"error": {"code", "message"}}`` — the one place that does.

Unexpected exceptions are logged with their traceback and answered with a bare 500;
the traceback never reaches the client.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from vstage.errors import VstageError
from vstage.idempotency.service import ReplayedResponse

log = logging.getLogger("vstage.errors")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    429: "rate_limited",
}


def error_body(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, **extra}}


def _headers_for(status_code: int, extra: dict[str, Any]) -> dict[str, str] | None:
    headers: dict[str, str] = {}
    if status_code == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="vstage"'
    if "retry_after" in extra:
        headers["Retry-After"] = str(int(extra["retry_after"]))
    return headers or None


async def _vstage_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, VstageError)
    return JSONResponse(
        exc.to_body(), status_code=exc.status_code, headers=_headers_for(exc.status_code, exc.extra)
    )


async def _replayed(_request: Request, exc: Exception) -> JSONResponse:
    """An Idempotency-Key replay: the stored response, as first sent."""
    assert isinstance(exc, ReplayedResponse)
    return JSONResponse(
        exc.body, status_code=exc.status_code, headers={"Idempotent-Replayed": "true"}
    )


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    return JSONResponse(
        error_body(code, message),
        status_code=exc.status_code,
        headers=exc.headers or _headers_for(exc.status_code, {}),
    )


def _describe(error: dict[str, Any]) -> str:
    loc = ".".join(str(p) for p in error.get("loc", ()) if p not in ("body", "query", "path"))
    msg = str(error.get("msg", "invalid"))
    return f"{loc}: {msg}" if loc else msg


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    details = [
        {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))} for e in errors
    ]
    message = "; ".join(_describe(e) for e in errors[:5]) or "invalid request"
    return JSONResponse(error_body("invalid_input", message, details=details), status_code=422)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return JSONResponse(error_body("internal_error", "internal server error"), status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(VstageError, _vstage_error)
    app.add_exception_handler(ReplayedResponse, _replayed)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)
