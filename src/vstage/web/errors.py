"""Friendly HTML error pages for the web UI, JSON for everything else.

The JSON handlers in :mod:`vstage.error_handlers` stay the single mapping of errors to
status codes; this module wraps them. A request that is not for the API (``/v1``,
health, metrics, docs) and accepts HTML gets the same status with a page in the app's
look instead, and an unauthenticated page view is sent to the login page.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response

from vstage.errors import VstageError
from vstage.web.deps import is_htmx
from vstage.web.templating import render

log = logging.getLogger("vstage.web")

Handler = Callable[[Request, Exception], Awaitable[Response]]

API_PREFIXES = ("/v1/", "/healthz", "/readyz", "/metrics", "/docs", "/redoc", "/openapi.json")

_TITLES = {
    400: "That request did not look right",
    401: "Please log in",
    402: "You have reached your plan's limit",
    403: "You can't do that",
    404: "We couldn't find that page",
    405: "That action is not available here",
    409: "That clashes with something else",
    413: "That file is too big",
    415: "That file type is not supported",
    422: "Some of that input is not valid",
    429: "Slow down a little",
}


def wants_html(request: Request) -> bool:
    path = request.url.path
    if path == "/v1" or path.startswith(API_PREFIXES) or path.startswith("/static/"):
        return False
    accept = request.headers.get("accept", "")
    return "text/html" in accept or is_htmx(request)


def _status_and_message(exc: Exception) -> tuple[int, str]:
    if isinstance(exc, VstageError):
        return exc.status_code, exc.message
    if isinstance(exc, StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else ""
        return exc.status_code, detail
    if isinstance(exc, RequestValidationError):
        return 422, "Some fields are missing or invalid."
    return 500, ""


def error_page(request: Request, status: int, message: str = "") -> Response:
    """Render the error page; also used directly by routes (e.g. a bad OIDC callback)."""
    if status == 404:
        # Never echo what was missing: another user's project must look like no project.
        message = "It may have been deleted, or the link may be wrong."
    elif status >= 500:
        message = "Something went wrong on our side. It has been logged; please try again."
    return render(
        request,
        "error.html",
        {
            "status": status,
            "title": _TITLES.get(status, "Something went wrong"),
            "message": message,
        },
        status_code=status,
    )


def _to_login(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    location = "/login?next=" + quote(target, safe="")
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)


def _wrap(original: Handler) -> Handler:
    async def handler(request: Request, exc: Exception) -> Response:
        if not wants_html(request):
            return await original(request, exc)
        status, message = _status_and_message(exc)
        if status == 401:
            return _to_login(request)
        if status >= 500:
            log.exception(
                "unhandled error on %s %s", request.method, request.url.path, exc_info=exc
            )
        return error_page(request, status, message)

    return handler


def install_web_errors(app: FastAPI) -> None:
    """Wrap the JSON handlers already installed; call after ``install_error_handlers``."""
    for key in (VstageError, StarletteHTTPException, RequestValidationError, Exception):
        original = app.exception_handlers.get(key)
        if original is not None:
            app.add_exception_handler(key, _wrap(original))  # type: ignore[arg-type]
