"""Setting and clearing the signed session cookie (``vstage.auth.session`` signs it)."""

from __future__ import annotations

from starlette.responses import Response

from vstage.auth.session import SESSION_COOKIE, SESSION_MAX_AGE_S, sign_session
from vstage.config import Settings


def set_session(response: Response, settings: Settings, sub: str) -> None:
    """HttpOnly (no script reads it), SameSite=Lax (no cross-site POST carries it),
    Secure outside embedded mode (production is HTTPS)."""
    response.set_cookie(
        SESSION_COOKIE,
        sign_session(settings.secret_key, sub),
        max_age=SESSION_MAX_AGE_S,
        httponly=True,
        samesite="lax",
        secure=not settings.embedded,
        path="/",
    )


def clear_session(response: Response, settings: Settings) -> None:
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, samesite="lax", secure=not settings.embedded, path="/"
    )
