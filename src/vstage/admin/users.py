"""Operator actions on users, no HTTP: list them, grant or revoke the admin role.

Roles live only in our database (never in a token claim), and are read per request,
so a change takes effect on every replica at the user's next request.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vstage.errors import Conflict, NotFound
from vstage.models import Role, User
from vstage.pagination import PageParams, paginate


async def list_users(
    session: AsyncSession, page: PageParams, *, role: Role | None = None
) -> Sequence[User]:
    """Users newest first, optionally of one role (``limit + 1`` rows)."""
    stmt = select(User)
    if role is not None:
        stmt = stmt.where(User.role == role.value)
    return (await session.scalars(paginate(stmt, page, User.created_at, User.id))).all()


async def set_role(session: AsyncSession, user_id: uuid.UUID, role: Role) -> User:
    """Change a user's role; 409 rather than leave the service without an admin."""
    user = await session.scalar(select(User).where(User.id == user_id).with_for_update())
    if user is None:
        raise NotFound("user not found")
    if user.role == Role.admin.value and role != Role.admin:
        # Lock every admin row so two admins demoting each other cannot both succeed.
        admins = (
            await session.scalars(
                select(User.id).where(User.role == Role.admin.value).with_for_update()
            )
        ).all()
        if len(admins) <= 1:
            raise Conflict("cannot remove the last admin; make someone else admin first")
    user.role = role.value
    await session.flush()
    return user
