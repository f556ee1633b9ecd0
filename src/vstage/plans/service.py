from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vstage.errors import InvalidInput, NotFound
from vstage.models import Plan

FREE_PLAN = "free"


async def list_plans(session: AsyncSession) -> Sequence[Plan]:
    return (await session.scalars(select(Plan).order_by(Plan.monthly_limit, Plan.code))).all()


async def get_plan(session: AsyncSession, code: str) -> Plan:
    plan = await session.scalar(select(Plan).where(Plan.code == code))
    if plan is None:
        raise NotFound(f"unknown plan {code!r}")
    return plan


async def set_plan(
    session: AsyncSession, code: str, *, price_id: str | None = None, limit: int | None = None
) -> Plan:
    """Create or update a plan; takes effect on running servers at their next request."""
    if not code or not code.replace("_", "").replace("-", "").isalnum() or len(code) > 64:
        raise InvalidInput("plan code must be 1-64 letters, digits, '-' or '_'")
    if limit is not None and limit < 0:
        raise InvalidInput("limit must be >= 0")
    plan = await session.scalar(select(Plan).where(Plan.code == code).with_for_update())
    if plan is None:
        if limit is None:
            raise InvalidInput(f"new plan {code!r} needs --limit")
        plan = Plan(id=uuid.uuid4(), code=code, price_id=price_id, monthly_limit=limit)
        session.add(plan)
    else:
        if price_id is not None:
            plan.price_id = price_id or None
        if limit is not None:
            plan.monthly_limit = limit
    await session.flush()
    return plan
