"""Users as seen by authentication: found or created by their Auth0 subject."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from vstage.errors import Unauthorized
from vstage.models import User, utcnow

MAX_SUB_LENGTH = 255


async def get_or_create_user(session: AsyncSession, sub: str) -> User:
    """Race-free: two first requests of a new user create one row."""
    if not sub or len(sub) > MAX_SUB_LENGTH or not sub.isprintable():
        raise Unauthorized("invalid subject")
    user = await session.scalar(select(User).where(User.auth0_sub == sub))
    if user is not None:
        return user
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    await session.execute(
        insert(User)
        .values(id=uuid.uuid4(), auth0_sub=sub, role="user", created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["auth0_sub"])
    )
    user = await session.scalar(select(User).where(User.auth0_sub == sub))
    assert user is not None
    return user
