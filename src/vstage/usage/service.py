"""Quota enforcement: where every staged image is charged and every failure refunded.

The check and the charge happen in the caller's transaction, the same one that
creates the image and enqueues its job, so an image exists iff it was charged. The
user's row is locked first (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite transactions
begin IMMEDIATE), so concurrent uploads of one user are serialised and cannot
overshoot the limit.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from vstage.billing.entitlement import Entitlement
from vstage.errors import QuotaExceeded
from vstage.models import Usage, User, utcnow


@dataclass(frozen=True)
class UsageSummary:
    used: int
    limit: int
    period_end: datetime


async def used_in_period(session: AsyncSession, user_id: uuid.UUID, ent: Entitlement) -> int:
    used = await session.scalar(
        select(func.coalesce(func.sum(Usage.amount), 0)).where(
            Usage.user_id == user_id,
            Usage.refunded_at.is_(None),
            Usage.created_at >= ent.period_start,
            Usage.created_at < ent.period_end,
        )
    )
    return int(used or 0)


async def summary(session: AsyncSession, user: User, ent: Entitlement) -> UsageSummary:
    return UsageSummary(
        used=await used_in_period(session, user.id, ent),
        limit=ent.monthly_limit,
        period_end=ent.period_end,
    )


async def charge(
    session: AsyncSession,
    user: User,
    image_ids: Sequence[uuid.UUID],
    ent: Entitlement,
    *,
    upgrade_url: str,
) -> None:
    """Charge one unit per image, all or nothing; raise 402 if the limit would be passed."""
    await session.execute(select(User.id).where(User.id == user.id).with_for_update())
    used = await used_in_period(session, user.id, ent)
    if used + len(image_ids) > ent.monthly_limit:
        raise QuotaExceeded(
            f"monthly limit of {ent.monthly_limit} images on the {ent.plan_code} plan reached",
            limit=ent.monthly_limit,
            used=used,
            upgrade_url=upgrade_url,
        )
    now = utcnow()
    session.add_all(
        Usage(
            id=uuid.uuid4(),
            user_id=user.id,
            image_id=image_id,
            period_start=ent.period_start,
            period_end=ent.period_end,
            amount=1,
            created_at=now,
        )
        for image_id in image_ids
    )
    await session.flush()


async def refund(session: AsyncSession, image_id: uuid.UUID) -> bool:
    """Give back the unit charged for ``image_id``; idempotent. True if it refunded now."""
    result = await session.execute(
        update(Usage)
        .where(Usage.image_id == image_id, Usage.refunded_at.is_(None))
        .values(refunded_at=utcnow())
    )
    return bool(getattr(result, "rowcount", 0))
