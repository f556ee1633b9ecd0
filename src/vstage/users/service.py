from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vstage.errors import InvalidInput, NotFound
from vstage.models import Role, User


async def find_user(session: AsyncSession, ref: str) -> User:
    """A user by auth0 sub or by id (operators use whichever they have at hand)."""
    user = await session.scalar(select(User).where(User.auth0_sub == ref))
    if user is None:
        try:
            user = await session.get(User, uuid.UUID(ref))
        except ValueError:
            user = None
    if user is None:
        raise NotFound(f"no user {ref!r}")
    return user


async def set_role(session: AsyncSession, user: User, role: str) -> User:
    if role not in {r.value for r in Role}:
        raise InvalidInput(f"role must be one of: {', '.join(r.value for r in Role)}")
    user.role = role
    await session.flush()
    return user
