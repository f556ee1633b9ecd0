"""One Jinja2 environment and one ``render`` helper for every page and fragment.

``render`` is the single place that puts the common context in (current user, CSRF
token, settings, the static-asset URL helper) and hands out the CSRF cookie, so no page
can forget either.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import HTMLResponse

from vstage.auth.session import SESSION_COOKIE, read_session
from vstage.config import Settings
from vstage.web import csrf

WEB_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"


def _asset_version() -> str:
    """Changes whenever a static file changes, so browsers never run a stale script."""
    newest = max((p.stat().st_mtime_ns for p in STATIC_DIR.rglob("*") if p.is_file()), default=0)
    return format(newest, "x")[-8:]


_VERSION = _asset_version()


def static_url(path: str) -> str:
    return f"/static/{path}?v={_VERSION}"


def fmt_datetime(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else ""


def fmt_date(value: datetime | None) -> str:
    return value.strftime("%-d %B %Y") if value else ""


templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
templates.env.globals["static_url"] = static_url
templates.env.filters["datetime"] = fmt_datetime
templates.env.filters["date"] = fmt_date


def _has_session(request: Request, settings: Settings) -> bool:
    """For pages rendered without a user lookup (error pages): is a valid session there?"""
    cookie = request.cookies.get(SESSION_COOKIE)
    return bool(cookie and read_session(settings.secret_key, cookie))


def render(
    request: Request,
    name: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """Render ``name`` with the common context; set the CSRF cookie if it is new."""
    settings: Settings = request.app.state.settings
    token, new_nonce = csrf.token_for(request, settings.secret_key)
    user = getattr(request.state, "viewer", None)
    ctx: dict[str, Any] = {
        "settings": settings,
        "user": user,
        "signed_in": user is not None or _has_session(request, settings),
        "csrf_token": token,
        "dev_mode": settings.auth_mode == "dev",
    }
    ctx.update(context or {})
    response = templates.TemplateResponse(
        request, name, ctx, status_code=status_code, headers=headers
    )
    if new_nonce is not None:
        csrf.set_cookie(response, new_nonce, secure=not settings.embedded)
    return response
