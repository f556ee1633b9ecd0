"""Login and logout: Auth0 universal login, or one-click dev login in dev mode."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from vstage.auth.service import get_or_create_user
from vstage.auth.session import SESSION_COOKIE, read_session
from vstage.dependencies import SessionDep, SettingsDep
from vstage.errors import NotFound, Unauthorized
from vstage.web.csrf import CsrfProtected
from vstage.web.deps import safe_next
from vstage.web.oidc import CALLBACK_PATH, LOGIN_COOKIE, LOGIN_MAX_AGE_S, OidcClient
from vstage.web.session_cookie import clear_session, set_session
from vstage.web.templating import render

router = APIRouter(include_in_schema=False)

DEFAULT_DEV_SUB = "dev|local-user"


def _oidc(request: Request) -> OidcClient:
    client: OidcClient | None = getattr(request.app.state, "oidc", None)
    if client is None:
        client = OidcClient(request.app.state.settings)
        request.app.state.oidc = client
    return client


@router.get("/login")
async def login_page(
    request: Request, settings: SettingsDep, next: str | None = None, error: str | None = None
) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie and read_session(settings.secret_key, cookie):
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "login.html", {"next": safe_next(next), "error": error})


@router.post("/auth/dev-login")
async def dev_login(
    _csrf: CsrfProtected,
    settings: SettingsDep,
    session: SessionDep,
    sub: Annotated[str, Form(max_length=255)] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    """Embedded/dev mode only: sign in as ``sub`` without a password."""
    if settings.auth_mode != "dev":
        raise NotFound("not found")
    user = await get_or_create_user(session, sub.strip() or DEFAULT_DEV_SUB)
    response = RedirectResponse(safe_next(next), status_code=303)
    set_session(response, settings, user.auth0_sub)
    return response


@router.get("/auth/login")
async def start_login(request: Request, settings: SettingsDep, next: str | None = None) -> Response:
    """Send the browser to the provider's universal login (code flow + PKCE)."""
    if settings.auth_mode != "auth0":
        return RedirectResponse("/login", status_code=303)
    url, pending = await _oidc(request).start(safe_next(next))
    response = RedirectResponse(url, status_code=302)
    response.set_cookie(
        LOGIN_COOKIE,
        pending,
        max_age=LOGIN_MAX_AGE_S,
        httponly=True,
        samesite="lax",  # the provider's redirect back is a top-level GET: Lax sends it
        secure=not settings.embedded,
        path="/auth",
    )
    return response


@router.get(CALLBACK_PATH)
async def callback(
    request: Request,
    settings: SettingsDep,
    session: SessionDep,
    code: str | None = None,
    state: str | None = None,
    error: str | None = None,
    error_description: str | None = None,
) -> Response:
    if settings.auth_mode != "auth0":
        raise NotFound("not found")
    oidc = _oidc(request)
    try:
        if error:
            raise Unauthorized(error_description or error)
        if not code or not state:
            raise Unauthorized("the login provider sent no code")
        pending = oidc.read_pending(request.cookies.get(LOGIN_COOKIE))
        claims = await oidc.finish(pending, code=code, state=state)
    except Unauthorized as exc:
        response = render(
            request, "login.html", {"next": "/projects", "error": exc.message}, status_code=401
        )
        response.delete_cookie(LOGIN_COOKIE, path="/auth")
        return response
    user = await get_or_create_user(session, str(claims["sub"]))
    email = claims.get("email")
    if isinstance(email, str) and email and user.email != email:
        user.email = email
    done = RedirectResponse(safe_next(pending.next), status_code=303)
    done.delete_cookie(LOGIN_COOKIE, path="/auth")
    set_session(done, settings, user.auth0_sub)
    return done


@router.post("/auth/logout")
async def logout(request: Request, _csrf: CsrfProtected, settings: SettingsDep) -> Response:
    """Clear our session; in auth0 mode also end the Auth0 session (``/v2/logout``)."""
    return_to = settings.public_url.rstrip("/") + "/login"
    auth0 = settings.auth_mode == "auth0"
    location = _oidc(request).logout_url(return_to) if auth0 else "/login"
    response = RedirectResponse(location, status_code=303)
    clear_session(response, settings)
    return response
