"""CSRF protection for every state-changing web form: signed double-submit.

A random nonce lives in the ``vstage_csrf`` cookie; forms carry ``csrf_token`` (and htmx
and upload requests the ``X-CSRF-Token`` header) = the nonce signed with the app secret.
A cross-site page can neither read the cookie nor mint a signature, so it cannot produce
a matching pair; the session cookie being ``SameSite=Lax`` is a second, independent layer.
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import Depends, Request
from itsdangerous import BadSignature, URLSafeSerializer
from starlette.responses import Response

from vstage.dependencies import SettingsDep
from vstage.errors import Forbidden

CSRF_COOKIE = "vstage_csrf"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"


class CsrfError(Forbidden):
    """The form's CSRF token is missing or does not match this browser's cookie."""

    code = "csrf_failed"


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt="vstage-csrf")


def token_for(request: Request, secret_key: str) -> tuple[str, str | None]:
    """The token to embed in this page, and the nonce to set as a cookie if it is new."""
    cached: tuple[str, str | None] | None = getattr(request.state, "csrf", None)
    if cached is not None:
        return cached
    nonce = request.cookies.get(CSRF_COOKIE)
    new_nonce = None
    if not nonce or len(nonce) > 100:
        nonce = new_nonce = secrets.token_urlsafe(32)
    result = (str(_serializer(secret_key).dumps(nonce)), new_nonce)
    request.state.csrf = result
    return result


def set_cookie(response: Response, nonce: str, *, secure: bool) -> None:
    response.set_cookie(CSRF_COOKIE, nonce, httponly=True, samesite="lax", secure=secure, path="/")


def verify(secret_key: str, cookie: str | None, token: str | None) -> bool:
    if not cookie or not token:
        return False
    try:
        signed = _serializer(secret_key).loads(token)
    except BadSignature:
        return False
    return isinstance(signed, str) and hmac.compare_digest(signed, cookie)


async def require_csrf(request: Request, settings: SettingsDep) -> None:
    """Dependency for every POST route of the web UI."""
    token = request.headers.get(CSRF_HEADER)
    if token is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        token = value if isinstance(value, str) else None
    if not verify(settings.secret_key, request.cookies.get(CSRF_COOKIE), token):
        raise CsrfError("this form has expired; reload the page and try again")


CsrfProtected = Annotated[None, Depends(require_csrf)]
