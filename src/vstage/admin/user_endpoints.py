"""``/v1/admin/users``: list users and change their role (admin only, else 403)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from vstage.admin import users
from vstage.admin.user_schemas import AdminUserRead, AdminUserUpdate
from vstage.auth.dependencies import AdminUser
from vstage.dependencies import SessionDep
from vstage.models import Role
from vstage.pagination import Page, PageDep, page_of

router = APIRouter(prefix="/v1/admin/users", tags=["admin"])


@router.get("", response_model=Page[AdminUserRead])
async def list_users(
    _admin: AdminUser,
    session: SessionDep,
    page: PageDep,
    role: Annotated[Role | None, Query(description="Only users with this role.")] = None,
) -> Page[AdminUserRead]:
    """All users, newest first."""
    rows = await users.list_users(session, page, role=role)
    return page_of(rows, page, AdminUserRead.model_validate)


@router.patch("/{user_id}", response_model=AdminUserRead)
async def update_user(
    user_id: uuid.UUID, body: AdminUserUpdate, _admin: AdminUser, session: SessionDep
) -> AdminUserRead:
    """Grant or revoke ``admin``; effective at the user's next request."""
    return AdminUserRead.model_validate(await users.set_role(session, user_id, body.role))
