"""Identity for web routes: the same ``CurrentUser``/``AdminUser`` the API uses.

The wrappers only remember who it is (a :class:`Viewer`) on ``request.state`` so that
every template (and the error pages) can show the navigation for who is signed in.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from vstage.auth.dependencies import AdminUser, CurrentUser
from vstage.models import Role, User


@dataclass(frozen=True)
class Viewer:
    """A plain copy of the signed-in user for templates: an error page rendered after
    the request's transaction rolled back must not touch the (expired) ORM object."""

    id: uuid.UUID
    auth0_sub: str
    email: str | None
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == Role.admin.value


def _remember(request: Request, user: User) -> User:
    request.state.viewer = Viewer(user.id, user.auth0_sub, user.email, user.role)
    return user


async def _web_user(request: Request, user: CurrentUser) -> User:
    return _remember(request, user)


async def _web_admin(request: Request, user: AdminUser) -> User:
    return _remember(request, user)


WebUser = Annotated[User, Depends(_web_user)]
WebAdmin = Annotated[User, Depends(_web_admin)]


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def safe_next(target: str | None, default: str = "/projects") -> str:
    """A same-site path to go to after login: never an open redirect."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    return target
